"""The stage records: what older and newer writers stored still parses, with the same keys."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from moviescore.records import (
    CandidateSummary,
    ChampionPointer,
    DatasetSummary,
    Manifest,
    Metrics,
    PromotionRecord,
    RecordError,
    build_manifest,
    parse,
)

# A manifest as an earlier release stored it: a key this release does not know, none of the
# optional ones (no wandb_url, ds or signature), and a metric without its split prefix.
OLD_MANIFEST: dict[str, Any] = {
    "model_name": "xgboost",
    "params": {"n_estimators": 200},
    "metrics": {"test_rmse": 0.8, "rmse_gap": 0.1, "spearman": 0.5},
    "feature_schema": ["runtime"],
    "version": "20261122-015137-xgboost-3f9a1c",
    "created_at": "2026-11-22T01:51:37+00:00",
    "files": {"model.joblib": {"sha256": "ab" * 32, "size": 10}},
    "trained_on": "laptop",
}


def test_an_older_manifest_parses_and_dumps_the_same_keys() -> None:
    manifest = parse(Manifest, json.dumps(OLD_MANIFEST), "models/x/manifest.json")
    assert manifest.metrics.test_rmse == 0.8 and manifest.metrics.train_rmse is None
    assert manifest.metrics.get("spearman") == 0.5
    assert manifest.files is not None and manifest.files["model.joblib"].size == 10
    assert manifest.dump() == OLD_MANIFEST


@pytest.mark.parametrize(
    ("model", "raw", "reason"),
    [
        (ChampionPointer, b'{"decision": {}}', "ChampionPointer: version: Field required"),
        (ChampionPointer, b"{oops", "not JSON"),
        (Manifest, b'{"model_name": ""}', "model_name: String should have at least 1"),
        (PromotionRecord, b'{"candidates": [{"metrics": {}}]}', "candidates.0.model_name"),
        (DatasetSummary, b"[1, 2]", "DatasetSummary"),
    ],
)
def test_a_record_that_does_not_parse_names_its_key_and_reason(
    model: type[Any], raw: bytes, reason: str
) -> None:
    with pytest.raises(RecordError, match="s3://b/k is not a valid record") as info:
        parse(model, raw, "s3://b/k")
    assert info.value.key == "s3://b/k" and reason in info.value.reason


def test_candidate_summary_is_plain_json_for_xcom() -> None:
    summary = CandidateSummary(
        ds="2026-01-01",
        run_id="run-2026-01-01",
        model_name="lightgbm",
        params={"n_estimators": 10},
        metrics=Metrics(val_rmse=0.8, test_rmse=0.9, test_r2=math.nan),
        model_path="/data/runs/run-2026-01-01/lightgbm/model.joblib",
        wandb_run_id=None,
        wandb_url=None,
    )
    dumped = summary.dump()
    assert set(dumped) == {
        "ds", "run_id", "model_name", "params", "metrics", "model_path", "wandb_run_id",
        "wandb_url",
    }  # fmt: skip
    assert set(dumped["metrics"]) == {"val_rmse", "test_rmse", "test_r2"}  # only what was set
    assert parse(CandidateSummary, dumped, "xcom") == summary  # the dict or the model: same
    assert parse(CandidateSummary, summary, "xcom") is summary
    assert set(summary.score().dump()) == {"model_name", "metrics", "wandb_run_id", "wandb_url"}


def test_build_manifest_has_the_keys_the_pipeline_always_wrote() -> None:
    class Features:
        def get_feature_names_out(self) -> list[str]:
            return ["runtime", "budget"]

    candidate = CandidateSummary(
        ds="2026-01-01",
        run_id="r",
        model_name="xgboost",
        params={},
        metrics=Metrics(test_rmse=0.8),
        model_path="m",
        wandb_url="https://wandb.ai/x",
    )
    manifest = build_manifest(
        candidate, [Features()], params={"a": 1}, run_id="r", ds="2026-01-01", data_fingerprint="f"
    )
    assert manifest.dump() == {
        "model_name": "xgboost",
        "params": {"a": 1},
        "metrics": {"test_rmse": 0.8},
        "feature_schema": ["runtime", "budget"],
        "data_fingerprint": "f",
        "wandb_run_id": None,
        "wandb_url": "https://wandb.ai/x",
        "run_id": "r",
        "ds": "2026-01-01",
    }
