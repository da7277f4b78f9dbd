"""Free loopback ports, and subprocesses started, waited for and stopped by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A loopback port nobody listens on (the OS picks it; free until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ports_free(ports: Iterable[int]) -> bool:
    """True if every one of `ports` can be bound on loopback right now."""
    socks: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket()
            socks.append(sock)
            sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()


def free_seaweed_base(start: int = 18333, stop: int = 31000, step: int = 97) -> int:
    """An S3 port whose whole SeaweedFS family (`moviescore s3` shifts them together) is free.

    Skips the calling test when the bounded search finds none.
    """
    from dataclasses import astuple

    import pytest

    from moviescore.local_s3 import SeaweedPorts

    for base in range(start, stop, step):
        try:
            family = astuple(SeaweedPorts.shifted_to(base))
        except ValueError:
            continue
        if ports_free(family):
            return base
    pytest.skip("no free block of loopback ports for a SeaweedFS family")


def stop_pid(proc: subprocess.Popen[Any], timeout: float = 10.0, group: bool = False) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; no-op if already gone.

    `group=True` (a process started with `start_new_session=True`) signals its whole process
    group, and SIGKILLs whatever of the group outlives `timeout`, even once the leader is gone
    (Celery and Airflow leave child processes behind)."""
    if not group:
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(proc):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout)


def _group_alive(proc: subprocess.Popen[Any]) -> bool:
    proc.poll()  # reap the leader, so a zombie does not count as alive
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_http(
    url: str,
    timeout: float = 60.0,
    proc: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
) -> None:
    """Poll `url` until it answers 200 (bounded); fail early, with `log`, if `proc` died."""

    def tail() -> str:
        return f":\n{log.read_text(errors='replace')}" if log is not None else ""

    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode} before {url} answered{tail()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not up after {timeout:.0f} s{tail()}")
        time.sleep(0.1)


@contextmanager
def running(
    command: list[str],
    health_url: str | None,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    group: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command`, wait until `health_url` answers 200 (None: no wait), and stop it by PID
    afterwards (`group=True`: in its own session, stopped with its whole process group).

    It runs in `cwd` (default: the log's directory, a test tmp dir, so no developer `.env`).
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd or log.parent,
            env=env or dict(os.environ),
            start_new_session=group,
        )
    try:
        if health_url is not None:
            wait_http(health_url, timeout, proc, log)
        yield proc
    finally:
        stop_pid(proc, group=group)


def modules_loaded_by(imports: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh interpreter has loaded after `import <imports>`."""
    import subprocess
    import sys

    probe = f"import sys, {imports}; print(','.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return [m for m in out.stdout.strip().split(",") if m]
