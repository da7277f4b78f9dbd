"""A local SeaweedFS for tests: pointing the environment at a bucket, killing and restarting it."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moviescore.config import Settings, get_settings


def local_s3_server(data_dir: Path, **kwargs: Any) -> Any:
    """A `LocalS3Server` on free loopback ports, not started; skips the test without `weed`."""
    from moviescore.local_s3 import LocalS3Server, SeaweedPorts, weed_binary

    try:
        weed_binary()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    return LocalS3Server(data_dir, ports=SeaweedPorts.free(), **kwargs)


def use_s3(monkeypatch: pytest.MonkeyPatch, server: Any, bucket: str) -> Settings:
    """Point the environment (and so `get_settings()`) at `bucket` on a LocalS3Server, unsigned;
    the pipeline's data lives there too (DATA_STORE=s3)."""
    monkeypatch.setenv("DATA_STORE", "s3")
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
