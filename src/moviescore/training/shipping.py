"""One promotion: judge the champion's recipe beside the candidates, decide, ship the winner.

Recipes are judged, not stored artifacts: the champion's recipe (model type and parameters from
its manifest, without the rounds its own early stopping chose) is fitted on this run's train
split and scored on the same test rows as the candidates, which none of them saw. What ships is
the winning recipe refitted on every labelled row (`candidates.ship`): the challenger's when it
wins (`promote`), else the champion's own when this run's data is newer (`refresh`).

Promotions are serialised by the registry's compare-and-swap on `champion.json`: a promotion
that loses re-reads the pointer, decides again against the new champion and says so in its
record. Every attempt is written to `runs/<run_id>/attempts/`, the last one to `decision.json`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from moviescore.records import (
    CandidateScore,
    CandidateSummary,
    DatasetSummary,
    Metrics,
    PromotionRecord,
    build_manifest,
)
from moviescore.registry.store import ChampionChanged, ChampionState, Registry, RegistryError
from moviescore.serving.comparables import comparables_files
from moviescore.storage import write_joblib
from moviescore.training.candidates import RefitError, Shipped, recipe_of, ship, train_candidate
from moviescore.training.promotion import PromotionPolicy, decide, pick_challenger, precheck

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a promotion re-decides at most this often when others keep winning the race


@dataclass
class Recipe:
    """A judged recipe: its held-out scores, parameters, and the model fitted on train."""

    score: CandidateScore
    params: dict[str, Any]
    model_path: str


@dataclass
class ChampionRecipe:
    version: str | None
    ds: str | None = None
    demo: bool = False
    fingerprint: str | None = None
    recipe: Recipe | None = None
    error: str | None = None


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def judge_champion(
    registry: Registry,
    state: ChampionState,
    candidates: list[CandidateSummary],
    splits: Any,
    out_dir: Path,
) -> ChampionRecipe:
    """The champion's recipe scored on this run's test rows (never the stored artifact)."""
    pointer = state.pointer
    if pointer is None:
        error = f"champion.json unreadable: {state.error}" if state.error else None
        return ChampionRecipe(None, error=error)
    champion = ChampionRecipe(pointer.version, ds=pointer.ds or pointer.decision.ds)
    try:
        manifest = registry.manifest(pointer.version)
        recipe = recipe_of(manifest.model_name, manifest.params)
    except (RegistryError, ValueError) as exc:  # an unreadable champion must not block
        champion.error = f"{type(exc).__name__}: {exc}"
        return champion
    champion.ds = champion.ds or manifest.ds
    champion.demo = manifest.demo or pointer.demo
    champion.fingerprint = manifest.data_fingerprint
    for c in candidates:  # the daily case: the champion's recipe is one of today's candidates
        if c.model_name == manifest.model_name and _same(recipe_of(c.model_name, c.params), recipe):
            champion.recipe = Recipe(c.score(), c.params, c.model_path)
            return champion
    result = train_candidate(manifest.model_name, splits, recipe)
    path = write_joblib(out_dir / "champion_recipe" / "model.joblib", result.pipeline)
    score = CandidateScore(model_name=result.model_name, metrics=Metrics(**result.metrics))
    champion.recipe = Recipe(score, result.params, str(path))
    return champion


def _ship(winner: Recipe, splits: Any, cache: dict[str, Shipped]) -> Shipped:
    key = json.dumps([winner.score.model_name, winner.params], sort_keys=True, default=str)
    if key not in cache:  # a re-decided attempt that picks the same recipe refits it once
        split_model = joblib.load(winner.model_path)
        cache[key] = ship(winner.score.model_name, winner.params, splits, split_model)
    return cache[key]


def promote(
    *,
    ds: str,
    run_id: str,
    candidates: list[CandidateSummary],
    splits: Any,
    data: DatasetSummary,
    baseline: dict[str, float],
    policy: PromotionPolicy,
    registry: Registry,
    out_dir: Path,
) -> tuple[PromotionRecord, Path | None]:
    """Decide and ship, re-deciding when another promotion moved the champion first; the
    final record (every attempt written to the registry) and the shipped model's local path."""
    challenger = pick_challenger(candidates)
    cache: dict[str, Shipped] = {}
    lost_to: list[str] = []
    record = PromotionRecord()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = registry.champion_state()
        champion = judge_champion(registry, state, candidates, splits, out_dir)
        record, winner, action = _decide(
            ds, run_id, challenger, candidates, champion, data, baseline, policy
        )
        record.attempt, record.lost_to = attempt, list(lost_to)
        record.attempted_at = datetime.now(UTC).isoformat()
        if winner is None or action is None:
            registry.write_decision(run_id, record)
            return record, None
        try:
            shipped = _ship(winner, splits, cache)
        except RefitError as exc:
            record.reason = f"not shipped: {exc}"
            record.promoted, record.action = False, None
            registry.write_decision(run_id, record)
            return record, None
        record.shipped = {"model_name": winner.score.model_name, "rows": shipped.rows}
        record.shipped |= {"params": shipped.params, "check": shipped.check}
        manifest = build_manifest(
            winner.score,
            shipped.pipeline,
            params=shipped.params,
            run_id=run_id,
            ds=ds,
            data_fingerprint=data.fingerprint,
            data=data,
            calibration=shipped.calibration,
            training_ranges=shipped.training_ranges,
            extra={"action": action, "refit": {"rows": shipped.rows, **shipped.check}},
        )
        version = registry.publish(
            shipped.pipeline, manifest, extra_files=comparables_files(shipped.fitted_rows)
        )
        record.champion_version = version
        try:
            registry.set_champion(version, record, action=action, based_on=state)
        except ChampionChanged:
            registry.discard(version)  # never served: no orphan left behind
            now = registry.champion_state().pointer
            lost_to.append(now.version if now else "?")
            record.lost_to = list(lost_to)
            record.champion_version = champion.version
            record.reason = f"lost the race to {lost_to[-1]}: deciding again ({record.reason})"
            record.promoted, record.action = False, None
            registry.write_decision(run_id, record)
            continue
        registry.write_decision(run_id, record)
        path = write_joblib(out_dir / "shipped" / "model.joblib", shipped.pipeline)
        return record, path
    record.reason = f"gave up after {MAX_ATTEMPTS} attempts: the champion kept changing"
    registry.write_decision(run_id, record)
    return record, None


def _decide(
    ds: str,
    run_id: str,
    challenger: CandidateSummary,
    candidates: list[CandidateSummary],
    champion: ChampionRecipe,
    data: DatasetSummary,
    baseline: dict[str, float],
    policy: PromotionPolicy,
) -> tuple[PromotionRecord, Recipe | None, str | None]:
    """The record of one decision, and the recipe to ship with its action (or None)."""
    judged = champion.recipe
    rmse = judged.score.metrics.test_rmse if judged else None
    decision = decide(
        challenger, rmse, baseline["test_rmse"], policy, champion_error=champion.error
    )
    block = precheck(ds, data.demo, champion.ds, champion.demo if champion.version else None)
    record = PromotionRecord(
        ds=ds,
        run_id=run_id,
        promoted=decision.promote and block is None,
        reason=block or decision.reason,
        challenger=challenger.model_name,
        previous_champion=champion.version,
        previous_champion_test_rmse=rmse,
        previous_champion_error=champion.error,
        baseline=baseline,
        candidates=[c.score() for c in candidates],
        data=data,
        champion_version=champion.version,
        champion_recipe=judged.score if judged else None,
        action=None,
    )
    if block is not None:
        return record, None, None
    if decision.promote:
        record.action = "promote"
        return (
            record,
            Recipe(challenger.score(), challenger.params, challenger.model_path),
            "promote",
        )
    if judged is not None and champion.fingerprint != data.fingerprint:
        record.action = "refresh"
        record.reason = (
            f"{decision.reason}; the champion's recipe is refitted on this run's newer data "
            "(refresh)"
        )
        return record, judged, "refresh"
    return record, None, None
