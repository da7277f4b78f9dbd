"""A local SeaweedFS for tests: pointing the environment at a bucket, killing and restarting it."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any

import pytest

from moviescore.config import Settings, get_settings


def use_s3(monkeypatch: pytest.MonkeyPatch, server: Any, bucket: str) -> Settings:
    """Point the environment (and so `get_settings()`) at `bucket` on a LocalS3Server, unsigned."""
    monkeypatch.setenv("S3_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("S3_BUCKET", bucket)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.delenv("MODEL_SIGNING_KEY", raising=False)
    get_settings.cache_clear()
    return get_settings()


@dataclass
class KillableS3:
    """A private `weed mini`: SIGKILL it by PID, start it again on the same ports and data."""

    server: Any  # moviescore.local_s3.LocalS3Server

    @property
    def endpoint_url(self) -> str:
        return str(self.server.endpoint_url)

    def kill(self) -> None:
        pid = self.server.pid
        assert pid is not None and self.server.running
        os.kill(pid, signal.SIGKILL)
        self.server._proc.wait(10)

    def restart(self) -> None:
        self.server.stop()  # the process is gone already; this forgets it
        self.server.start()
