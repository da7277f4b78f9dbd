"""The promotion rule, table-driven: every branch the DAG can meet, and the operator's reason."""

from __future__ import annotations

import math

import pytest

from moviescore.config import Settings
from moviescore.records import CandidateScore, Metrics
from moviescore.training.promotion import (
    Decision,
    PromotionPolicy,
    decide,
    pick_challenger,
    precheck,
)

POLICY = PromotionPolicy(min_improvement=0.005, max_gap=0.6)


def candidate(name: str, test: float, gap: float = 0.2, val: float = 0.8) -> CandidateScore:
    metrics = Metrics(train_rmse=test - gap, val_rmse=val, test_rmse=test, rmse_gap=gap)
    return CandidateScore(model_name=name, metrics=metrics)


CASES = [
    # id, challenger, champion RMSE, baseline RMSE, champion_error, promote, reason fragments
    (
        "no champion, beats baseline",
        candidate("xgboost", 0.80),
        None,
        0.93,
        None,
        True,
        ["promoted: no champion yet", "xgboost test RMSE 0.800 beats the mean baseline 0.930"],
    ),
    (
        "no champion, worse than baseline",
        candidate("lightgbm", 0.95),
        None,
        0.93,
        None,
        False,
        ["not promoted: no champion yet", "0.950 is not better than the mean baseline 0.930"],
    ),
    (
        "better than champion",
        candidate("xgboost", 0.79),
        0.809,
        0.93,
        None,
        True,
        [
            "promoted: challenger xgboost test RMSE 0.790 beats the champion's recipe 0.809 "
            "by 0.019 (≥ 0.005)"
        ],
    ),
    (
        "worse than champion",
        candidate("xgboost", 0.812),
        0.809,
        0.93,
        None,
        False,
        [
            "not promoted: challenger xgboost test RMSE 0.812 is not better than "
            "the champion's recipe 0.809 by ≥ 0.005"
        ],
    ),
    (
        "equal to champion",
        candidate("random_forest", 0.809),
        0.809,
        0.93,
        None,
        False,
        ["not better than the champion's recipe 0.809 by ≥ 0.005"],
    ),
    (
        "better by less than the minimum",
        candidate("xgboost", 0.806),
        0.809,
        0.93,
        None,
        False,
        ["not better than the champion's recipe 0.809 by ≥ 0.005"],
    ),
    (
        "better by exactly the minimum",
        candidate("xgboost", 0.804),
        0.809,
        0.93,
        None,
        True,
        ["beats the champion's recipe 0.809 by 0.005"],
    ),
    (
        "better but overfit",
        candidate("random_forest", 0.70, gap=0.65),
        0.809,
        0.93,
        None,
        False,
        ["not promoted: challenger random_forest overfits: rmse gap 0.650 (test − train)", "0.6"],
    ),
    (
        "worse and overfit: both reasons",
        candidate("random_forest", 0.85, gap=0.7),
        0.809,
        0.93,
        None,
        False,
        ["is not better than the champion's recipe", "; overfits: rmse gap 0.700"],
    ),
    (
        "no champion, beats baseline but overfit",
        candidate("random_forest", 0.80, gap=0.61),
        None,
        0.93,
        None,
        False,
        ["not promoted: no champion yet: challenger random_forest overfits"],
    ),
    (
        "champion bundle unreadable, beats baseline",
        candidate("lightgbm", 0.85),
        None,
        0.93,
        "IntegrityError: sha256 mismatch",
        True,
        ["champion unreadable (IntegrityError: sha256 mismatch)", "beats the mean baseline"],
    ),
    (
        "champion bundle unreadable, worse than baseline",
        candidate("lightgbm", 0.95),
        None,
        0.93,
        "S3Unavailable: down",
        False,
        ["not promoted: champion unreadable (S3Unavailable: down)", "is not better than the mean"],
    ),
]


@pytest.mark.parametrize(
    ("challenger", "champion", "baseline", "error", "promote", "fragments"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decide(
    challenger: CandidateScore,
    champion: float | None,
    baseline: float,
    error: str | None,
    promote: bool,
    fragments: list[str],
) -> None:
    decision = decide(challenger, champion, baseline, POLICY, champion_error=error)
    assert isinstance(decision, Decision)
    assert decision.promote is promote
    for fragment in fragments:
        assert fragment in decision.reason, decision.reason
    assert decision.challenger_test_rmse == challenger.metrics.test_rmse
    assert decision.compared_with == ("champion" if champion is not None else "baseline")
    assert decision.as_dict()["promote"] is promote


def test_unreadable_champion_is_ignored_even_with_a_score() -> None:
    # A stale score beside an error must not be used: the champion counts as absent.
    decision = decide(candidate("x", 0.9), 0.5, 0.93, POLICY, champion_error="boom")
    assert decision.promote and decision.compared_with == "baseline"


def test_derives_a_missing_gap_from_train_and_test() -> None:
    metrics = Metrics(train_rmse=0.1, val_rmse=0.8, test_rmse=0.8)  # gap 0.7 ≥ 0.6
    decision = decide(CandidateScore(model_name="x", metrics=metrics), None, 0.93, POLICY)
    assert not decision.promote
    assert decision.challenger_rmse_gap == pytest.approx(0.7)
    assert "challenger x overfits" in decision.reason
    assert "rmse gap 0.700" in decision.reason


def test_policy_comes_from_the_settings() -> None:
    settings = Settings(min_rmse_improvement=0.01, max_rmse_gap=0.5, _env_file=None)  # type: ignore[call-arg]
    assert PromotionPolicy.from_settings(settings) == PromotionPolicy(0.01, 0.5)
    decision = decide(
        candidate("x", 0.80, gap=0.55), None, 0.93, PromotionPolicy.from_settings(settings)
    )
    assert not decision.promote and decision.max_gap == 0.5


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_challenger_is_never_promoted(bad: float) -> None:
    decision = decide(candidate("xgboost", bad), None, 0.93, POLICY)
    assert not decision.promote
    assert "no finite test RMSE" in decision.reason


def test_non_finite_champion_score_falls_back_to_baseline() -> None:
    decision = decide(candidate("xgboost", 0.85), math.nan, 0.93, POLICY)
    assert decision.promote
    assert "champion re-score is not a number" in decision.reason


def test_missing_test_rmse_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no test_rmse"):
        decide(CandidateScore(model_name="x", metrics=Metrics(val_rmse=1.0)), None, 0.9, POLICY)


def test_pick_challenger_uses_validation_not_test() -> None:
    candidates = [
        candidate("xgboost", test=0.70, val=0.85),
        candidate("lightgbm", test=0.90, val=0.80),
        candidate("random_forest", test=0.60, val=math.nan),
    ]
    assert pick_challenger(candidates).model_name == "lightgbm"


def test_pick_challenger_with_no_usable_candidate() -> None:
    with pytest.raises(ValueError, match="no candidate has a finite val_rmse"):
        pick_challenger([candidate("x", 0.8, val=math.nan)])


@pytest.mark.parametrize(
    ("run_ds", "run_demo", "champion_ds", "champion_demo", "blocked"),
    [
        ("2026-11-30", False, None, None, None),  # first champion
        ("2026-11-30", False, "2026-11-29", False, None),  # a newer day
        ("2026-11-30", False, "2026-11-30", False, None),  # a re-run of the champion's day
        ("2026-11-20", False, "2026-11-30", False, "older than the champion's training cutoff"),
        ("2026-11-30", True, "2026-11-29", False, "offline sample (IMDb ratings, a demo model)"),
        ("2026-11-30", True, None, None, None),  # a fresh machine: the demo model serves
        ("2026-11-30", False, "2026-11-29", True, None),  # TMDB data replaces the demo
    ],
)
def test_precheck_time_order_and_label_scale(
    run_ds: str,
    run_demo: bool,
    champion_ds: str | None,
    champion_demo: bool | None,
    blocked: str | None,
) -> None:
    reason = precheck(run_ds, run_demo, champion_ds, champion_demo)
    if blocked is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith("not promoted") and blocked in reason
