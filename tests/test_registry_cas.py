"""One promotion at a time: the pointer's compare-and-swap, its chain and signature, run attempts,
against a real S3 server (SeaweedFS's conditional PUT, see the `s3_settings` fixture)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from moviescore.config import Settings
from moviescore.registry.s3 import PreconditionFailed
from moviescore.registry.store import (
    CHAMPION_KEY,
    ChampionChanged,
    PointerRefused,
    Registry,
)
from tests.helpers.registry import KEY, assert_chain, manifest_for, raw_json, raw_put, tiny_pipeline


@pytest.fixture
def registry(s3_settings: Settings) -> Registry:
    return Registry.from_settings(s3_settings)


def test_the_bucket_refuses_a_stale_conditional_put(registry: Registry) -> None:
    """SeaweedFS (the embedded server) implements If-Match / If-None-Match: * on PutObject."""
    etag = registry.store.put("k.json", b"1", if_none_match="*")
    with pytest.raises(PreconditionFailed):
        registry.store.put("k.json", b"2", if_none_match="*")
    new = registry.store.put("k.json", b"3", if_match=etag)
    with pytest.raises(PreconditionFailed):
        registry.store.put("k.json", b"4", if_match=etag)
    assert registry.store.get("k.json") == (b"3", new)


def test_two_promotions_from_the_same_read_one_wins(registry: Registry) -> None:
    first, second = (registry.publish(tiny_pipeline(c), manifest_for("xgboost")) for c in (1, 2))
    empty = registry.champion_state()  # both decided "no champion yet"
    registry.set_champion(first, {"reason": "a"}, based_on=empty)
    with pytest.raises(ChampionChanged, match="re-read and decide again"):
        registry.set_champion(second, {"reason": "b"}, based_on=empty)
    state = registry.champion_state()
    assert state.pointer is not None and state.pointer.version == first
    registry.set_champion(second, {"reason": "b, re-decided"}, based_on=state)
    with pytest.raises(ChampionChanged):
        registry.set_champion(first, {"reason": "stale"}, based_on=state)
    assert assert_chain(registry) == [first, second]


def test_racing_threads_leave_one_coherent_chain(registry: Registry) -> None:
    """Eight writers at once, each re-reading when it loses: every one lands exactly once and
    the history is a chain that agrees with the pointer."""
    versions = [registry.publish(tiny_pipeline(i), manifest_for("lightgbm")) for i in range(8)]
    start = threading.Barrier(len(versions))
    lost: list[int] = []

    def promote(version: str) -> None:
        start.wait()
        while True:
            state = registry.champion_state()
            try:
                registry.set_champion(version, {"reason": version}, based_on=state)
                return
            except ChampionChanged:
                lost.append(1)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    chain = assert_chain(registry)
    assert sorted(chain) == sorted(versions)  # each landed once, none overwritten
    assert lost  # they did race


def test_a_crash_between_pointer_and_history_leaves_a_gap_that_is_filled(
    registry: Registry,
) -> None:
    first, second = (registry.publish(tiny_pipeline(c), manifest_for("xgboost")) for c in (1, 2))

    def crash(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("models/history/"):
            raise RuntimeError("killed after the pointer moved")

    registry.client.meta.events.register("before-parameter-build.s3.PutObject", crash)
    with pytest.raises(RuntimeError, match="killed"):
        registry.set_champion(first, {"reason": "a"})
    registry.client.meta.events.unregister("before-parameter-build.s3.PutObject", crash)
    assert registry.history() == []  # a gap, not a lie
    registry.set_champion(second, {"reason": "b"})
    assert assert_chain(registry) == [first, second]


def test_rollback_is_a_new_link_of_the_chain(registry: Registry) -> None:
    first, second = (registry.publish(tiny_pipeline(c), manifest_for("xgboost")) for c in (1, 2))
    registry.set_champion(first, {"reason": "a"})
    registry.set_champion(second, {"reason": "b"})
    back = registry.rollback()
    assert back.version == first and back.action == "rollback" and back.sequence == 3
    assert assert_chain(registry) == [first, second, first]


def test_signed_pointer_covers_sequence_and_previous_version(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = Registry.from_settings(s3_settings)
    keyed.signing_key = KEY
    first, second = (keyed.publish(tiny_pipeline(c), manifest_for("xgboost")) for c in (1, 2))
    keyed.set_champion(first, {"reason": "a"})
    keyed.set_champion(second, {"reason": "b"})
    stored = raw_json(keyed, CHAMPION_KEY)
    assert stored["signature"]["algorithm"] == "HMAC-SHA256" and stored["sequence"] == 2
    pointer, _ = keyed.champion_if_changed(None)
    assert pointer is not None and pointer.version == second

    for field, value in (("sequence", 99), ("previous_version", None), ("promoted_at", "x")):
        raw_put(keyed, CHAMPION_KEY, json.dumps(stored | {field: value}).encode())
        with pytest.raises(PointerRefused, match="changed or signed with another key"):
            keyed.champion_if_changed(None)
    unsigned = {k: v for k, v in stored.items() if k != "signature"}
    raw_put(keyed, CHAMPION_KEY, json.dumps(unsigned).encode())
    with pytest.raises(PointerRefused, match="carries no signature") as refused:
        keyed.champion_if_changed(None)
    assert refused.value.etag  # the server remembers it: the next poll is a 304


def test_every_attempt_of_a_run_is_kept(registry: Registry) -> None:
    registry.write_decision("run-2026-11-20", {"reason": "first try", "promoted": False})
    registry.write_decision("run-2026-11-20", {"reason": "re-run", "promoted": True})
    attempts = registry.attempts("run-2026-11-20")
    assert [a.reason for a in attempts] == ["first try", "re-run"]
    decision = registry.decision("run-2026-11-20")
    assert decision is not None and decision.reason == "re-run"
