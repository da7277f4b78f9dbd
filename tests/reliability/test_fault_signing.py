"""Signed bundles end to end: someone with bucket write access but no MODEL_SIGNING_KEY points a
live, keyed API at a bundle of theirs. It is refused before unpickling; the old champion serves."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import joblib
import pytest
from reliability.probes import wait_for

from moviescore.config import Settings, get_settings
from moviescore.registry.store import Registry
from tests.helpers import live

pytestmark = pytest.mark.integration

SIGNING_KEY = "signing-key-for-the-tamper-test"
MOVIE = {"title": "Sig", "original_language": "en", "release_date": "2027-01-01"}


class Marker:
    """A pickle that creates a file when unpickled: proof of whether a loader ran it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (self.path,))


def attacker_bundle(attacker: Registry, victim_manifest: dict[str, Any], marker: Path) -> str:
    """Copy a signed version, swap in a pickle of the attacker's, fix the sha256 (no key)."""
    version = victim_manifest["version"].rsplit("-", 1)[0] + "-bad0ff"
    blob = io.BytesIO()
    joblib.dump(Marker(marker), blob)
    manifest = dict(victim_manifest, version=version)
    manifest["files"] = {"model.joblib": {"sha256": hashlib.sha256(blob.getvalue()).hexdigest(),
                                          "size": len(blob.getvalue())}}  # fmt: skip
    attacker.store.put(f"models/{version}/model.joblib", blob.getvalue())
    attacker.store.put(f"models/{version}/manifest.json", json.dumps(manifest).encode())
    return version


@pytest.mark.parametrize("attack", ["tampered", "unsigned"])
def test_keyed_server_refuses_a_bundle_it_cannot_verify(
    s3_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    live_api: Any,
    tmp_path: Path,
    attack: str,
) -> None:
    monkeypatch.setenv("MODEL_SIGNING_KEY", SIGNING_KEY)
    get_settings.cache_clear()
    owner = Registry.from_settings(get_settings())
    good = live.promote(owner, seed=0)
    assert "signature" in owner.manifest(good).dump()
    api = live_api(dict(os.environ) | {"MODEL_POLL_SECONDS": "0.3"})
    assert api.model()["version"] == good

    attacker = Registry(owner.client, owner.bucket)  # write access, no key
    marker = tmp_path / "unpickled"
    if attack == "tampered":  # a signed manifest with the model and its sha256 swapped
        bad = attacker_bundle(attacker, owner.manifest(good).dump(), marker)
    else:  # a well-formed but unsigned bundle, published the normal way
        bad = attacker.publish(Marker(marker), live.manifest_for(live.fit_pipeline()))
    attacker.store.put(
        "models/champion.json",
        json.dumps({"version": bad, "decision": {"reason": "trust me"}}).encode(),
    )

    status = wait_for(lambda: (m := api.model())["reload_failures"] > 0 and m, 15, "a refusal")
    reason = "bad signature" if attack == "tampered" else "unsigned"
    assert status["version"] == good and status["ready"]  # still the previous champion
    assert status["last_poll_result"] == "failed"
    assert bad in status["last_error"] and f"refused ({reason})" in status["last_error"]
    assert api.post("/predict", MOVIE).json()["model_version"] == good
    assert not marker.exists()  # the attacker's pickle never ran
    log = api.log.read_text()
    assert f"loading {bad} failed" in log and reason in log
    assert SIGNING_KEY not in log and SIGNING_KEY not in api.get("/model").text
