"""Fixtures of the fault and security tests: a private SeaweedFS that a test may kill, a live API.

The session's shared SeaweedFS (`seaweedfs` in tests/conftest.py) is never killed here; a test
that kills S3 gets its own `LocalS3Server` on its own ports and data dir, and can restart it on
the same ports with the same data (`restart`).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability.probes import BODY_TIMEOUT_SECONDS, ServedAPI

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


@pytest.fixture(scope="module")
def served_api(seaweedfs: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedAPI]:
    """`moviescore serve` (the server settings users get) on a free port, serving a small real
    champion from a fresh bucket of the session's SeaweedFS; one per test module."""
    from moviescore.registry.s3 import ensure_bucket
    from moviescore.registry.store import Registry

    bucket = f"api-{uuid.uuid4().hex[:8]}"
    ensure_bucket(seaweedfs.client(), bucket)
    live.promote(Registry(seaweedfs.client(), bucket))
    env = dict(os.environ) | {
        "S3_ENDPOINT_URL": seaweedfs.endpoint_url, "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": seaweedfs.access_key, "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
    }  # fmt: skip
    env.pop("MODEL_SIGNING_KEY", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("api") / "api.log"
    command = [sys.executable, "-m", "moviescore", "serve", "--port", str(port)]
    with running(command, f"{url}/ready", log, env=env) as proc:
        yield ServedAPI(url, proc.pid, log)
