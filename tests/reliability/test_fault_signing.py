"""Signed bundles and pointers end to end: someone with bucket write access but no
MODEL_SIGNING_KEY points a live, keyed API at a bundle of theirs, or replays an old signed pointer.
Both are refused (nothing of theirs is unpickled); the champion serves on; a rollback by the key
holder still works."""

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

    status = wait_for(
        lambda: (m := api.model())["last_poll_result"] == "refused" and m, 15, "a refusal"
    )
    assert status["version"] == good and status["ready"]  # still the previous champion
    assert "champion.json refused: unsigned" in status["last_error"]  # the pointer, first
    assert status["reload_failures"] == 0  # the attacker's bundle was not even downloaded
    assert api.post("/predict", MOVIE).json()["model_version"] == good
    assert not marker.exists()  # the attacker's pickle never ran
    with pytest.raises(Exception, match="refused"):  # and the bundle itself fails its check
        Registry.from_settings(get_settings()).load(bad)
    assert not marker.exists()
    log = api.log.read_text()
    assert "champion.json refused" in log
    assert SIGNING_KEY not in log and SIGNING_KEY not in api.get("/model").text


def test_keyed_server_refuses_a_replayed_pointer_but_follows_a_rollback(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch, live_api: Any
) -> None:
    """An old pointer the key holder signed, written back by someone without the key, would
    make the server serve an older version: its sequence is lower than the served one's."""
    monkeypatch.setenv("MODEL_SIGNING_KEY", SIGNING_KEY)
    get_settings.cache_clear()
    owner = Registry.from_settings(get_settings())
    old = live.promote(owner, seed=0)
    old_pointer, _ = owner.store.get("models/champion.json")  # signed, sequence 1
    api = live_api(dict(os.environ) | {"MODEL_POLL_SECONDS": "0.3"})
    new = live.promote(owner, seed=1)
    wait_for(lambda: api.model()["version"] == new, 15, "the new champion")

    attacker = Registry(owner.client, owner.bucket)  # write access, no key
    assert old_pointer is not None
    attacker.store.put("models/champion.json", old_pointer)
    status = wait_for(
        lambda: (m := api.model())["last_poll_result"] == "refused" and m, 15, "a refusal"
    )
    assert status["version"] == new
    assert "sequence 1 is lower than the served 2" in status["last_error"]
    assert api.post("/predict", MOVIE).json()["model_version"] == new

    back = owner.rollback(old)  # the key holder's rollback: a new pointer, sequence 3
    assert back.sequence == 3 and back.previous_version == new  # the chain, not the replay
    wait_for(lambda: api.model()["version"] == old, 15, "the rollback")
    assert api.post("/predict", MOVIE).json()["model_version"] == old
