"""The model registry against a real S3 server (SeaweedFS, see the `s3_settings` fixture)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from moviescore.config import Settings, get_settings
from moviescore.records import RecordError
from moviescore.registry import base as registry_base
from moviescore.registry import versions as registry_versions
from moviescore.registry.s3 import BucketMissing, S3Unavailable, make_client
from moviescore.registry.store import (
    CHAMPION_KEY,
    IntegrityError,
    ModelBundle,
    Registry,
    RegistryError,
    VersionNotFound,
)
from tests.helpers.processes import free_port
from tests.helpers.registry import KEY, X, manifest_for, raw_json, raw_put, tiny_pipeline


@pytest.fixture
def registry(s3_settings: Settings) -> Registry:
    return Registry.from_settings(s3_settings)


def test_publish_champion_load_round_trip(registry: Registry) -> None:
    assert registry.champion() is None
    assert registry.champion_if_changed(None) == (None, None)
    version = registry.publish(tiny_pipeline(7.0), manifest_for("xgboost"))
    assert version.split("-")[2] == "xgboost"

    manifest = raw_json(registry, f"models/{version}/manifest.json")
    assert manifest["version"] == version and manifest["created_at"]
    assert manifest["params"] == {"n_estimators": 200}
    assert manifest["feature_schema"] == ["runtime", "budget"]
    assert "signature" not in manifest  # no key configured
    model_bytes = registry.client.get_object(
        Bucket=registry.bucket, Key=f"models/{version}/model.joblib"
    )["Body"].read()
    import hashlib

    assert manifest["files"]["model.joblib"]["sha256"] == hashlib.sha256(model_bytes).hexdigest()

    pointer = registry.set_champion(version, {"promote": True, "reason": "first"})
    assert registry.champion() == pointer
    assert pointer.version == version and pointer.decision.reason == "first"
    assert pointer.metrics.test_rmse == 0.8
    stored = raw_json(registry, CHAMPION_KEY)  # the keys on S3 are the ones written before
    assert set(stored) == {
        "version", "sequence", "model_name", "metrics", "created_at", "promoted_at",
        "previous_version", "action", "decision",
    }  # fmt: skip
    assert stored["sequence"] == 1 and stored["previous_version"] is None
    assert stored["decision"] == {"promote": True, "reason": "first"}

    bundle = registry.load(version)
    assert isinstance(bundle, ModelBundle) and bundle.version == version
    assert bundle.manifest.dump() == manifest
    assert bundle.pipeline.predict(X[:2]).tolist() == [7.0, 7.0]


def test_conditional_get_of_the_pointer(registry: Registry) -> None:
    first = registry.publish(tiny_pipeline(1.0), manifest_for("lightgbm"))
    registry.set_champion(first, {"promote": True})
    pointer, etag = registry.champion_if_changed(None)
    assert pointer is not None and pointer.version == first and etag
    assert registry.champion_if_changed(etag) == (None, etag)  # 304: nothing downloaded

    second = registry.publish(tiny_pipeline(2.0), manifest_for("xgboost"))
    registry.set_champion(second, {"promote": True})
    pointer, new_etag = registry.champion_if_changed(etag)
    assert pointer is not None and pointer.version == second
    assert new_etag and new_etag != etag
    assert pointer.previous_version == first


def test_champion_pointer_is_written_last(registry: Registry, seaweedfs: Any) -> None:
    """Watch every PutObject: when champion.json goes up, all files it names already exist;
    its history entry (keyed by sequence) follows the pointer."""
    observer = seaweedfs.client()
    puts: list[str] = []

    def before_put(params: dict[str, Any], **_: Any) -> None:
        puts.append(params["Key"])
        if params["Key"] == CHAMPION_KEY:
            version = json.loads(params["Body"])["version"]
            for name in ("model.joblib", "manifest.json"):
                observer.head_object(Bucket=registry.bucket, Key=f"models/{version}/{name}")

    registry.client.meta.events.register("before-parameter-build.s3.PutObject", before_put)
    version = registry.publish(tiny_pipeline(3.0), manifest_for("random_forest"))
    registry.set_champion(version, {"promote": True})
    assert puts[0] == f"models/{version}/model.joblib"
    assert puts[1] == f"models/{version}/manifest.json"
    assert puts[2] == CHAMPION_KEY
    assert puts[3] == "models/history/seq-000000000001.json" and len(puts) == 4


def test_set_champion_refuses_an_incomplete_version(registry: Registry) -> None:
    good = registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"))
    registry.set_champion(good, {"promote": True})
    broken = registry.publish(tiny_pipeline(2.0), manifest_for("xgboost"))
    registry.client.delete_object(Bucket=registry.bucket, Key=f"models/{broken}/model.joblib")
    with pytest.raises(IntegrityError, match="missing file"):
        registry.set_champion(broken, {"promote": True})
    assert registry.champion().version == good  # type: ignore[union-attr]


def test_tampered_model_is_refused_before_unpickling(registry: Registry, tmp_path: Path) -> None:
    version = registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"))
    marker = tmp_path / "unpickled"
    raw_put(registry, f"models/{version}/model.joblib", _evil_pickle(marker))
    with pytest.raises(IntegrityError, match="sha256 mismatch") as info:
        registry.load(version)
    assert info.value.reason == "sha256 mismatch" and info.value.version == version
    assert not marker.exists()


class _Evil:
    """Unpickling this touches a file: proof of whether a loader unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.touch, (self.marker,))


def _evil_pickle(marker: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    joblib.dump(_Evil(marker), buffer)
    return buffer.getvalue()


def _forge(registry: Registry, version: str, marker: Path, signature: Any) -> None:
    """What someone with bucket write access but no key can do: new bytes + matching sha256."""
    import hashlib

    evil = _evil_pickle(marker)
    manifest = raw_json(registry, f"models/{version}/manifest.json")
    manifest["files"]["model.joblib"] = {
        "sha256": hashlib.sha256(evil).hexdigest(),
        "size": len(evil),
    }
    if signature is None:
        manifest.pop("signature", None)
    else:
        manifest["signature"] = signature
    raw_put(registry, f"models/{version}/model.joblib", evil)
    raw_put(registry, f"models/{version}/manifest.json", json.dumps(manifest).encode())


def test_signed_bundles(registry: Registry, tmp_path: Path) -> None:
    keyed = Registry(registry.client, registry.bucket, signing_key=KEY)
    version = keyed.publish(tiny_pipeline(5.0), manifest_for("xgboost"))
    stored = raw_json(registry, f"models/{version}/manifest.json")
    assert stored["signature"]["algorithm"] == "HMAC-SHA256"
    assert keyed.load(version).pipeline.predict(X[:1]).tolist() == [5.0]
    assert registry.load(version).version == version  # no key: sha256 only

    wrong_key = Registry(registry.client, registry.bucket, signing_key="another key")
    with pytest.raises(IntegrityError) as info:
        wrong_key.load(version)
    assert info.value.reason == "bad signature"

    unsigned = registry.publish(tiny_pipeline(6.0), manifest_for("lightgbm"))
    with pytest.raises(IntegrityError, match=r"\(unsigned\)"):
        keyed.load(unsigned)

    # Someone edits a signed manifest's metrics: the signature no longer matches.
    stored["metrics"]["test_rmse"] = 0.1
    raw_put(registry, f"models/{version}/manifest.json", json.dumps(stored).encode())
    with pytest.raises(IntegrityError, match=r"\(bad signature\)"):
        keyed.load(version)


@pytest.mark.parametrize("signature", [None, {"algorithm": "HMAC-SHA256", "value": "00" * 32}])
def test_bucket_writer_without_the_key_cannot_run_code(
    registry: Registry, tmp_path: Path, signature: Any
) -> None:
    keyed = Registry(registry.client, registry.bucket, signing_key=KEY)
    version = keyed.publish(tiny_pipeline(5.0), manifest_for("xgboost"))
    marker = tmp_path / "unpickled"
    _forge(registry, version, marker, signature)
    with pytest.raises(IntegrityError) as info:
        keyed.load(version)
    assert info.value.reason == ("unsigned" if signature is None else "bad signature")
    assert not marker.exists()
    # Control: the forgery is sha256-consistent, so only the key stood in the way.
    with pytest.raises(Exception):  # noqa: B017 - the forged "model" is not a pipeline
        registry.load(version).pipeline.predict(X)
    assert marker.exists()


def test_signing_key_from_settings(s3_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_SIGNING_KEY", KEY)
    get_settings.cache_clear()
    keyed = Registry.from_settings()
    assert keyed.signing_key == KEY and keyed.bucket == s3_settings.s3_bucket
    version = keyed.publish(tiny_pipeline(1.0), manifest_for("xgboost"))
    assert Registry(keyed.client, keyed.bucket, signing_key=KEY).load(version)


def test_list_versions_and_history_newest_first(registry: Registry) -> None:
    versions = []
    for name in ("xgboost", "lightgbm", "random_forest"):
        versions.append(registry.publish(tiny_pipeline(1.0), manifest_for(name)))
        time.sleep(0.002)  # created_at is microsecond-resolved; keep the order unambiguous
    registry.set_champion(versions[0], {"promote": True})
    registry.set_champion(versions[1], {"promote": True})
    # A half-written version (model uploaded, manifest not yet) is not listed.
    raw_put(registry, "models/20000101-000000-xgboost-abcdef/model.joblib", b"partial")

    listed = registry.list_versions()
    assert [m.version for m in listed] == versions[::-1]
    assert [m.champion for m in listed] == [False, True, False]
    assert listed[1].as_json()["champion"] is True and listed[1].as_json()["version"] == versions[1]
    assert listed[0].manifest is not None and listed[0].manifest.model_name == "random_forest"
    assert registry.list_versions(limit=2) == listed[:2]
    assert registry.list_versions(limit=5) == listed

    history = registry.history()
    assert [h.version for h in history] == [versions[1], versions[0]]
    assert history[0].previous_version == versions[0]
    assert history[1].previous_version is None
    assert registry.history(limit=1) == history[:1]


def test_rollback(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback()
    v1 = registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"))
    registry.set_champion(v1, {"promote": True})
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback()
    v2 = registry.publish(tiny_pipeline(2.0), manifest_for("lightgbm"))
    registry.set_champion(v2, {"promote": True})

    pointer = registry.rollback()
    assert pointer.version == v1 and pointer.action == "rollback"
    assert pointer.previous_version == v2
    assert f"rollback from {v2} to {v1}" in (pointer.decision.reason or "")
    assert registry.champion().version == v1  # type: ignore[union-attr]
    assert [h.version for h in registry.history()] == [v1, v2, v1]

    assert registry.rollback(v2).version == v2  # explicit version
    with pytest.raises(RegistryError, match="already the champion"):
        registry.rollback(v2)

    raw_put(registry, f"models/{v1}/model.joblib", b"tampered")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        registry.rollback(v1)
    assert registry.champion().version == v2  # type: ignore[union-attr]
    with pytest.raises(VersionNotFound):
        registry.rollback("20000101-000000-xgboost-abcdef")


def test_missing_and_malformed_versions(registry: Registry) -> None:
    with pytest.raises(VersionNotFound, match="no model version"):
        registry.load("20000101-000000-xgboost-abcdef")
    with pytest.raises(VersionNotFound, match="not a registry version id"):
        registry.load("../champion")
    with pytest.raises(VersionNotFound):
        registry.set_champion("20000101-000000-xgboost-abcdef", {})
    with pytest.raises(ValueError, match="model_name"):
        registry.publish(tiny_pipeline(1.0), {"metrics": {}})


def test_run_decisions(registry: Registry) -> None:
    run_id = "scheduled__2026-11-22T00:00:00+00:00"
    registry.write_decision(run_id, {"promoted": False, "rmse": np.float32(0.5)})
    assert registry.decision(run_id).dump() == {"promoted": False, "rmse": 0.5}  # type: ignore[union-attr]
    assert registry.decision("never-ran") is None
    for bad in ("", "a/b", ".."):
        with pytest.raises(ValueError, match="bad run id"):
            registry.write_decision(bad, {})


def test_missing_bucket_is_named(s3_settings: Settings) -> None:
    registry = Registry(make_client(s3_settings), "no-such-bucket")
    with pytest.raises(BucketMissing, match="'no-such-bucket' does not exist"):
        registry.champion()
    with pytest.raises(BucketMissing):
        registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"))


def test_unreachable_endpoint_fails_fast_and_clearly(settings: Settings) -> None:
    port = free_port()  # a loopback port nobody listens on
    down = settings.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{port}"})
    started = time.monotonic()
    with pytest.raises(S3Unavailable, match=f"S3 endpoint unreachable: http://127.0.0.1:{port}"):
        Registry.from_settings(down).champion()
    assert time.monotonic() - started < 5


def test_decisions_lists_newest_runs_first_promoted_or_not(registry: Registry) -> None:
    for ds, promoted in (("2026-11-20", True), ("2026-11-22", False), ("2026-11-21", False)):
        registry.write_decision(f"run-{ds}", {"ds": ds, "promoted": promoted})
    assert [d.ds for d in registry.decisions()] == ["2026-11-22", "2026-11-21", "2026-11-20"]
    assert [d.ds for d in registry.decisions(limit=1)] == ["2026-11-22"]


def test_list_versions_with_a_limit_reads_only_the_newest_manifests(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = iter(range(1, 6))  # versions created on five different days
    make_id = registry_versions.new_version_id
    monkeypatch.setattr(
        registry_versions,
        "new_version_id",
        lambda name: make_id(name, datetime(2026, 1, next(days))),
    )
    older = [registry.publish(tiny_pipeline(1.0), manifest_for("xgboost")) for _ in range(5)]
    read: list[str] = []
    manifest = registry.manifest
    monkeypatch.setattr(registry, "manifest", lambda v: read.append(v) or manifest(v))
    newest = registry.list_versions(limit=2)
    assert [m.version for m in newest] == [older[4], older[3]]
    assert sorted(read) == sorted(older[3:])  # a year of versions costs two GETs, not 365


def test_rollback_reads_the_history_only_back_to_the_previous_champion(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History entries are written after the pointer moved (keyed by sequence), so each names a
    version that served; rollback goes to the champion before the current one, reading the
    history only back to it."""
    v1, v2 = (registry.publish(tiny_pipeline(float(i)), manifest_for("xgboost")) for i in range(2))
    for version in (v1, v1, v2):  # an old entry of v1 beyond the one rollback needs
        registry.set_champion(version, {"promote": True})
    read: list[str] = []
    get = registry._get
    monkeypatch.setattr(registry, "_get", lambda model, key: read.append(key) or get(model, key))

    assert registry.rollback().version == v1
    history_reads = {k for k in read if k.startswith("models/history/")}
    assert "models/history/seq-000000000001.json" not in history_reads  # the oldest v1 entry


def test_a_record_that_does_not_parse_is_a_record_error_naming_its_key(
    registry: Registry,
) -> None:
    version = registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"))
    registry.set_champion(version, {"promote": True})
    bad = "models/history/29990101T000000000000Z-broken.json"
    raw_put(registry, bad, b'{"action": "promote"}')  # no version
    skipped: list[RecordError] = []
    assert [e.version for e in registry.history(skipped=skipped)] == [version]  # the good one
    (error,) = skipped
    assert error.key == f"s3://{registry.bucket}/{bad}"
    assert "version: Field required" in error.reason
    raw_put(registry, "runs/run-x/decision.json", b'{"candidates": "none"}')
    with pytest.raises(RecordError, match=r"runs/run-x/decision\.json"):
        registry.decision("run-x")
    assert registry.decisions(skipped=skipped) == []
    assert skipped[1].key.endswith("runs/run-x/decision.json")
    raw_put(registry, "models/champion.json", b'{"version": 5}')
    with pytest.raises(RecordError, match=r"champion\.json"):
        registry.champion()
    assert [v.version for v in registry.list_versions()] == [version]  # champion: unknown


def test_reads_are_capped_records_at_1_mib_model_files_at_their_manifest_size(
    registry: Registry,
) -> None:
    version = registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"))
    key = f"models/{version}/model.joblib"
    raw_put(registry, key, registry.store.get(key, limit=1 << 30)[0] + b"\0")  # one byte more
    with pytest.raises(IntegrityError, match=r"\(file too large\).*over the .* limit") as info:
        registry.verify(version)
    assert info.value.reason == "file too large"
    big = json.dumps({"version": version, "pad": "x" * (2 << 20)}).encode()
    raw_put(registry, "models/champion.json", big)
    with pytest.raises(RecordError, match=r"champion\.json .* 2\.0 MiB, over the 1\.0 MiB limit"):
        registry.champion()
    raw_put(registry, f"models/{version}/manifest.json", big)
    (listed,) = registry.list_versions()
    assert listed.manifest is None
    assert "bad manifest" in (listed.error or "") and "1.0 MiB limit" in (listed.error or "")


def test_extra_files_are_published_verified_and_loaded(registry: Registry) -> None:
    index = b'{"films": []}' * 10
    version = registry.publish(
        tiny_pipeline(1.0), manifest_for("xgboost"), extra_files={"comparables.json.gz": index}
    )
    bundle = registry.load(version)
    assert bundle.files == {"comparables.json.gz": index}
    assert set(bundle.manifest.files or {}) == {"model.joblib", "comparables.json.gz"}
    raw_put(registry, f"models/{version}/comparables.json.gz", b"tampered")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        registry.load(version)
    older = registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"))
    assert registry.load(older).files == {}  # bundles without extra files still load


def test_extra_files_are_bounded_and_plainly_named(registry: Registry) -> None:
    for name in ("model.joblib", "manifest.json", "../x", ".hidden"):
        with pytest.raises(ValueError, match="bad extra file name"):
            registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"), extra_files={name: b""})
    too_big = b"x" * (registry_base.MAX_EXTRA_FILE_BYTES + 1)
    with pytest.raises(ValueError, match="over"):
        registry.publish(tiny_pipeline(1.0), manifest_for("xgboost"), extra_files={"a": too_big})
