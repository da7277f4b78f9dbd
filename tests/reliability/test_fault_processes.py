"""Children never outlive the command that started them, and the S3 child holds no secrets:
`moviescore s3` and `moviescore ui` run as real subprocesses and are killed by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from reliability.probes import wait_for

from moviescore.local_s3 import SeaweedPorts
from tests.helpers.processes import free_port

pytestmark = pytest.mark.integration

ACCESS_KEY = "AKIAPROCESSPROBE0001"
SECRET_KEY = "process-probe-secret-0001"


def free_family() -> SeaweedPorts:
    """An S3 port whose whole SeaweedFS family (ten ports, one offset) is free."""
    for s3_port in range(20_000, 40_000, 211):
        ports = SeaweedPorts.shifted_to(s3_port)
        if not ports.busy():
            return ports
    pytest.skip("no free SeaweedFS port family on loopback")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextmanager
def command(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "moviescore", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


@pytest.fixture
def s3_env(tmp_path: Path) -> tuple[dict[str, str], SeaweedPorts]:
    ports = free_family()
    env = dict(os.environ) | {
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{ports.s3}", "S3_BUCKET": "orphans",
        "DATA_DIR": str(tmp_path / "data"),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }  # fmt: skip
    return env, ports


@pytest.mark.timeout(120)
def test_s3_killed_hard_takes_its_weed_child_along_and_frees_every_port(
    s3_env: tuple[dict[str, str], SeaweedPorts], tmp_path: Path
) -> None:
    env, ports = s3_env
    with command(["s3"], env, tmp_path) as cli:
        assert cli.stdout is not None
        line = cli.stdout.readline()  # printed once S3 answers and the bucket exists
        assert "S3 (SeaweedFS) on" in line, (line, cli.stderr.read() if cli.poll() else "")
        weed = psutil.Process(int(line.rsplit("pid ", 1)[1].split(".")[0]))
        assert weed.ppid() == cli.pid

        # what weed may see and write: no AWS keys in its environment or its log
        environ = Path(f"/proc/{weed.pid}/environ").read_bytes().split(b"\0")
        assert sorted(v.split(b"=")[0] for v in environ if v) == [b"HOME", b"PATH"]
        root = Path(env["DATA_DIR"]) / "s3"
        assert (root / "log").stat().st_mode & 0o777 == 0o700
        assert (root / "weed.out").stat().st_mode & 0o777 == 0o600
        with httpx.Client() as client:  # some traffic, so the log has something to say
            client.get(f"http://127.0.0.1:{ports.s3}/orphans")

        os.kill(cli.pid, signal.SIGKILL)  # no cleanup runs in the CLI
        cli.wait(10)
        wait_for(lambda: gone(weed.pid), 15, f"weed pid {weed.pid} to die with its parent")
    wait_for(lambda: not ports.busy(), 15, "the ten SeaweedFS ports to be free")
    logs = [p for p in root.rglob("*") if p.is_file() and p.name != "s3.json"]
    assert logs and not [p for p in logs if ACCESS_KEY.encode() in p.read_bytes()]
    assert not [p for p in logs if SECRET_KEY.encode() in p.read_bytes()]


def test_s3_with_a_port_of_its_family_taken_names_that_port(
    s3_env: tuple[dict[str, str], SeaweedPorts], tmp_path: Path
) -> None:
    env, ports = s3_env
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
        taken.bind(("127.0.0.1", ports.filer))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "moviescore", "s3"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"filer {ports.filer}" in errors[0], done.stderr
    assert f"S3 port {ports.s3}" in errors[0] and "Traceback" not in done.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_ui_stopped_by_its_pid_leaves_no_streamlit_and_frees_its_port(
    tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    env = dict(os.environ) | {"API_URL": f"http://127.0.0.1:{free_port()}"}
    with command(["ui", "--port", str(port)], env, tmp_path) as ui:
        health = f"http://127.0.0.1:{port}/_stcore/health"

        def up() -> bool:
            try:
                return httpx.get(health, timeout=1).status_code == 200
            except httpx.TransportError:
                assert ui.poll() is None, ui.stderr.read() if ui.stderr else ""
                return False

        wait_for(up, 60, "streamlit to answer")
        family = [ui.pid] + [c.pid for c in psutil.Process(ui.pid).children(recursive=True)]
        os.kill(ui.pid, sig)
        ui.wait(15)
        wait_for(lambda: all(gone(pid) for pid in family), 15, f"{family} to be gone")

    def port_free() -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    wait_for(port_free, 10, f"port {port} to be free")
