"""boto3 client construction and the local SeaweedFS server (real `weed mini` processes)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from moviescore.config import Settings
from moviescore.local_s3 import LocalS3Server, SeaweedPorts
from moviescore.registry.s3 import Bucket, S3Error, ensure_bucket, make_client
from tests.helpers.processes import free_seaweed_base


def _listening(ports: set[int]) -> dict[int, str]:
    """{port: local IPv4 address (hex)} of TCP sockets in LISTEN state on `ports`."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, port = local.split(":")
        if state == "0A" and int(port, 16) in ports:
            found[int(port, 16)] = addr
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still "exists"; it is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][0] != "Z"


def test_make_client_for_a_custom_endpoint(settings: Settings) -> None:
    client = make_client(settings)  # default: the embedded loopback server
    config: Any = client.meta.config
    assert client.meta.endpoint_url == "http://127.0.0.1:8333"
    assert config.s3 == {"addressing_style": "path"}
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.connect_timeout <= 3
    assert client.meta.region_name == "us-east-1"


def test_make_client_for_aws(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    aws = settings.model_copy(update={"s3_endpoint_url": "", "aws_default_region": "eu-west-3"})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")  # the default chain, not the local key
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = make_client(aws)
    assert client.meta.endpoint_url == "https://s3.eu-west-3.amazonaws.com"
    config: Any = client.meta.config
    assert config.s3 == {"addressing_style": "auto"}
    assert aws.s3_credentials() == (None, None)


def test_ports_move_together() -> None:
    moved = SeaweedPorts.shifted_to(18333)
    assert moved == SeaweedPorts(
        18333, 28333, 18888, 28888, 19333, 29333, 19340, 29340, 33646, 43646
    )
    assert "-s3.port=18333" in moved.args() and "-admin.port.grpc=43646" in moved.args()
    assert len(moved.args()) == 10
    free = SeaweedPorts.free()
    assert len(set(free.args())) == 10 and len({a.split("=")[1] for a in free.args()}) == 10
    with pytest.raises(ValueError, match="out of range"):
        SeaweedPorts.shifted_to(60000)


def test_session_server_binds_every_port_on_loopback_only(seaweedfs: LocalS3Server) -> None:
    ports = set(vars(seaweedfs.ports).values())
    deadline = time.monotonic() + 5  # S3 answers first; the admin server binds ~0.5 s later
    while set(found := _listening(ports)) != ports and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(found) == ports, f"weed did not use ports {ports - set(found)}"
    assert set(found.values()) == {"0100007F"}, found  # 127.0.0.1, never 0.0.0.0


@pytest.mark.integration
def test_second_server_next_to_the_first_then_stopped_by_pid(
    seaweedfs: LocalS3Server, tmp_path: Path
) -> None:
    other = LocalS3Server(tmp_path / "s3", ports=SeaweedPorts.free(), bucket="side")
    with other:
        pid = other.pid
        assert pid is not None and pid != seaweedfs.pid
        assert other.running and seaweedfs.running
        assert [b["Name"] for b in other.client().list_buckets()["Buckets"]] == ["side"]
        Bucket(other.client(), "side").put("k", b"v")
        assert "side" not in [b["Name"] for b in seaweedfs.client().list_buckets()["Buckets"]]
    assert other.pid is None and not _pid_alive(pid)
    assert not _listening(set(vars(other.ports).values()))
    assert not list(Path("/tmp").glob(f"seaweedfs-*-{other.ports.s3_grpc}.sock"))
    assert seaweedfs.running  # the session server is untouched
    # Same root again: the data survived the restart.
    with LocalS3Server(tmp_path / "s3", ports=SeaweedPorts.free()) as again:
        assert Bucket(again.client(), "side").get("k")[0] == b"v"


def test_port_taken_by_another_server_is_refused(seaweedfs: LocalS3Server, tmp_path: Path) -> None:
    # The other server's S3 would answer the readiness probe: the clash must be caught first.
    taken = SeaweedPorts(**(vars(SeaweedPorts.free()) | {"filer": seaweedfs.ports.filer}))
    server = LocalS3Server(tmp_path, ports=taken)
    with pytest.raises(RuntimeError, match=f"ports in use on 127.0.0.1: filer {taken.filer}"):
        server.start()
    assert server.pid is None and not server.running
    assert seaweedfs.running


class _BadFlagServer(LocalS3Server):
    def command(self) -> list[str]:
        return [*super().command(), "-no.such.flag=1"]


def test_weed_failing_at_start_reports_its_output(tmp_path: Path) -> None:
    server = _BadFlagServer(tmp_path, ports=SeaweedPorts.free(), startup_timeout=15)
    with pytest.raises(RuntimeError, match="weed exited") as info:
        server.start()
    assert len(str(info.value).splitlines()) > 1  # the log tail comes with it
    assert server.pid is None and not server.running


def test_ensure_bucket_is_idempotent(seaweedfs: LocalS3Server) -> None:
    client = seaweedfs.client()
    ensure_bucket(client, "twice")
    ensure_bucket(client, "twice")
    assert "twice" in [b["Name"] for b in client.list_buckets()["Buckets"]]
    client.delete_bucket(Bucket="twice")


def test_other_s3_errors_are_s3_errors(seaweedfs: LocalS3Server) -> None:
    with pytest.raises(S3Error, match="InvalidBucketName"):
        ensure_bucket(seaweedfs.client(), "b")  # names need 3+ characters


def test_wrong_credentials_are_named(seaweedfs: LocalS3Server) -> None:
    bad = LocalS3Server(seaweedfs.root, ports=seaweedfs.ports, secret_key="wrong").client()
    with pytest.raises(S3Error, match="refused the credentials"):
        Bucket(bad, "any").get("k")


@pytest.mark.integration
def test_serve_forever_runs_until_interrupted(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # use the embedded credentials
        monkeypatch.delenv(name, raising=False)
    weed_pid = None
    port = free_seaweed_base()
    env = os.environ | {
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "S3_BUCKET": "served",
        "DATA_DIR": str(tmp_path),
    }
    code = "from moviescore.local_s3 import serve_forever; serve_forever()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the bucket exists
        match = re.search(r"pid (\d+)", line)
        assert match, line
        weed_pid = int(match.group(1))
        local = settings.model_copy(
            update={
                "s3_endpoint_url": f"http://127.0.0.1:{port}",
                "aws_access_key_id": None,  # → the embedded loopback credentials
                "aws_secret_access_key": None,
            }
        )
        client = make_client(local)
        assert "served" in [b["Name"] for b in client.list_buckets()["Buckets"]]
        assert (tmp_path / "s3" / "data").is_dir()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        deadline = time.monotonic() + 5
        while _pid_alive(weed_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _pid_alive(weed_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if weed_pid is not None and _pid_alive(weed_pid):  # its parent died without stopping it
            os.kill(weed_pid, signal.SIGKILL)
