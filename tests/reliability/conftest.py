"""Fixtures of the fault and security tests: a private SeaweedFS that a test may kill, a live API.

The session's shared SeaweedFS (`seaweedfs` in tests/conftest.py) is never killed here; a test
that kills S3 gets its own `LocalS3Server` on its own ports and data dir, and can restart it on
the same ports with the same data (`restart`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from moviescore.config import Settings, get_settings
from tests.helpers import live
from tests.helpers.processes import free_port, running
from tests.helpers.s3 import KillableS3, local_s3_server, use_s3

BUCKET = "reliability"


@pytest.fixture
def killable_s3(tmp_path: Path) -> Iterator[KillableS3]:
    with local_s3_server(tmp_path / "s3", bucket=BUCKET) as server:
        yield KillableS3(server)


@pytest.fixture
def killable_settings(
    settings: Settings, killable_s3: KillableS3, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """`settings` pointed at the private server's bucket (what the API subprocess gets too)."""
    yield use_s3(monkeypatch, killable_s3.server, BUCKET)
    get_settings.cache_clear()


@dataclass
class LiveAPI:
    url: str
    log: Path
    proc: Any

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=10)

    def model(self) -> dict[str, Any]:
        data: dict[str, Any] = self.get("/model").json()
        return data


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[Any]:
    """start(env) -> LiveAPI: uvicorn (`app.main:create_app`) as a subprocess, stopped by PID."""
    from contextlib import ExitStack

    with ExitStack() as stack:

        def start(env: dict[str, str], name: str = "api") -> LiveAPI:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            log = tmp_path / f"{name}.log"
            proc = stack.enter_context(
                running(live.api_command(port), f"{url}/ready", log, env=env, cwd=tmp_path)
            )
            return LiveAPI(url, log, proc)

        yield start
