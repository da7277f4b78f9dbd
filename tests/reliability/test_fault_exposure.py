"""Secrets never leave: distinctive fake secrets go in, everything the system produces is grepped.
Plus what listens where, what compose demands, and what git ignores."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest
import yaml

from app.main import create_app, run_server
from moviescore import cli
from moviescore.config import LOCAL_S3_ACCESS_KEY
from tests.helpers import live
from tests.helpers.processes import free_port, running
from tests.helpers.tmdb_fake import FakeTMDB, make_movies

SECRETS = {
    "TMDB_API_KEY": "tmdbSECRET4f1c9e",
    "AWS_SECRET_ACCESS_KEY": "awsSECRET7b2d0a",
    "MODEL_SIGNING_KEY": "signSECRET93e6c1",
    "WANDB_API_KEY": "wandbSECRET" + "0" * 29,  # W&B keys are 40 characters
}
DS = "2024-03-01"


def leaks(text: str | bytes) -> list[str]:
    blob = text.encode() if isinstance(text, str) else text
    return [name for name, value in SECRETS.items() if value.encode() in blob]


@pytest.mark.integration
def test_no_secret_in_logs_outputs_files_objects_or_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moviescore.local_s3 import LocalS3Server, SeaweedPorts

    data = tmp_path / "data"
    movies = make_movies(150, date(2024, 1, 1), days=60)
    for m in movies:  # a learnable rating, so the run promotes and publishes a manifest
        m["vote_average"] = round(2 + m["runtime"] / 25, 1)
    with (
        FakeTMDB(movies, api_key=SECRETS["TMDB_API_KEY"]) as fake,
        LocalS3Server(tmp_path / "s3", ports=SeaweedPorts.free(), bucket="leaks",
                      secret_key=SECRETS["AWS_SECRET_ACCESS_KEY"]) as s3,
    ):  # fmt: skip
        env = dict(os.environ) | SECRETS | {
            "DATA_DIR": str(data), "TMDB_BASE_URL": fake.base_url,
            "TMDB_DAYS_BACK": "60", "TMDB_DAYS_AHEAD": "0", "TMDB_REQUESTS_PER_SECOND": "1000",
            "S3_ENDPOINT_URL": s3.endpoint_url, "S3_BUCKET": "leaks",
            "AWS_ACCESS_KEY_ID": LOCAL_S3_ACCESS_KEY, "WANDB_MODE": "offline",
            "MAX_RMSE_GAP": "5",  # 150 movies overfit; this test needs a promotion, not quality
        }  # fmt: skip
        run = subprocess.run(
            [sys.executable, "-m", "moviescore", "pipeline", "--date", DS, "--source", "tmdb"],
            capture_output=True, timeout=120, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr.decode()[-3000:]
        assert b"api_key=***" in run.stderr  # httpx logged the URLs, masked
        produced: dict[str, bytes] = {"cli stdout": run.stdout, "cli stderr": run.stderr}
        produced |= {str(p): p.read_bytes() for p in data.rglob("*") if p.is_file()}
        client = s3.client()
        for obj in client.list_objects_v2(Bucket="leaks").get("Contents", []):
            produced[obj["Key"]] = client.get_object(Bucket="leaks", Key=obj["Key"])["Body"].read()
        assert any(k.endswith("manifest.json") for k in produced), run.stdout.decode()[-2000:]
        assert any(k.startswith("runs/") for k in produced)
        assert any("wandb" in k for k in produced)

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with running(live.api_command(port), f"{url}/ready", tmp_path / "api.log", env=env):
            for path in ("/model", "/models", "/metrics", "/openapi.json", "/health", "/ready"):
                produced[path] = httpx.get(url + path, timeout=10).content
            produced["/predict"] = httpx.post(
                url + "/predict",
                timeout=10,
                json={"title": "t", "original_language": "en", "release_date": "2027-01-01"},
            ).content
        produced["api log"] = (tmp_path / "api.log").read_bytes()
        for cmd in (["models", "list"], ["models", "show"]):
            out = subprocess.run([sys.executable, "-m", "moviescore", *cmd], capture_output=True,
                                 timeout=60, cwd=tmp_path, env=env)  # fmt: skip
            assert out.returncode == 0, out.stderr.decode()
            produced[" ".join(cmd)] = out.stdout + out.stderr

    found = {where: leaks(blob) for where, blob in produced.items() if leaks(blob)}
    assert found == {}, f"secrets leaked: {found}"
    assert len(produced) > 20


def test_nothing_listens_beyond_loopback_by_default() -> None:
    assert inspect.signature(run_server).parameters["host"].default == "127.0.0.1"
    for command in (cli.serve, cli.ui):
        assert inspect.signature(command).parameters["host"].default == "127.0.0.1"
    from moviescore.local_s3 import LocalS3Server

    weed = LocalS3Server(Path("/nonexistent")).command()
    assert "-ip.bind=127.0.0.1" in weed and "-ip=127.0.0.1" in weed
    script = (live.REPO / "scripts" / "run_local.sh").read_text()
    assert "--host" not in script and "0.0.0.0" not in script  # serve/ui run on their defaults
    for name in ("docker-compose-airflow.yaml", "docker-compose-fastapi.yaml"):
        services = yaml.safe_load((live.REPO / name).read_text())["services"]
        for service, spec in services.items():
            for port in spec.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), (name, service, port)


def test_compose_demands_every_secret_explicitly() -> None:
    for name in ("docker-compose-airflow.yaml", "docker-compose-fastapi.yaml"):
        text = (live.REPO / name).read_text()
        for var in re.findall(r"\$\{([A-Z_]*(?:SECRET|PASSWORD|FERNET|KEY)[A-Z_]*)", text):
            if var in {"MODEL_SIGNING_KEY"}:  # optional by design: signing off unless set
                continue
            assert re.search(rf"\$\{{{var}:\?", text), f"{name}: {var} has a default"


def test_env_file_is_ignored_by_git() -> None:
    out = subprocess.run(["git", "check-ignore", "-v", ".env"], cwd=live.REPO,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0 and ".gitignore" in out.stdout


def test_no_admin_or_reload_endpoint(tmp_path: Path) -> None:
    from app.model_manager import ModelManager
    from moviescore.config import Settings

    app = create_app(Settings(data_dir=tmp_path), manager=ModelManager(registry=None))
    routes = {(m, r.path) for r in app.routes for m in getattr(r, "methods", set()) - {"HEAD"}}
    writes = {(m, p) for m, p in routes if m != "GET"}
    assert writes == {("POST", "/predict"), ("POST", "/predict/batch")}
