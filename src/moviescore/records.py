"""The records that cross a stage boundary, each defined, built and parsed here only.

A record travels as JSON: through XCom between DAG steps, as files under `DATA_DIR`, as objects
in the S3 registry, and out of the API. Every model keeps unknown keys (`extra="allow"`) and
dumps only the keys it was built or read with (`dump()`), so a record written by an older or
newer release parses and round-trips with the same keys. `parse` is the one entry point for
JSON read from outside; a record that fails it raises `RecordError` naming where it came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class RecordError(ValueError):
    """A stored record is not valid JSON or not the shape its model expects."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key} is not a valid record: {reason}")
        self.key, self.reason = key, reason


def json_default(value: Any) -> Any:
    """Plain JSON for what `json` cannot write: numpy scalars and arrays, dates; else text."""
    for attr in ("item", "tolist", "isoformat"):
        if hasattr(value, attr):
            return getattr(value, attr)()
    return str(value)


class Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    def dump(self) -> dict[str, Any]:
        """Plain JSON types, exactly the keys this record was built or read with."""
        return self.model_dump(mode="json", exclude_unset=True, fallback=json_default)


R = TypeVar("R", bound=Record)


def parse(model: type[R], raw: bytes | str | Mapping[str, Any] | R, key: str) -> R:
    """`raw` (JSON text, a dict, or already the model) as `model`; `RecordError` if it is not."""
    if isinstance(raw, model):
        return raw
    try:
        data = json.loads(raw) if isinstance(raw, bytes | str) else raw
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise RecordError(key, f"{model.__name__}: {problems}") from exc
    except ValueError as exc:  # json.JSONDecodeError, bad UTF-8
        raise RecordError(key, f"not JSON: {exc}") from exc


class Metrics(Record):
    """Scores of one model: `<split>_{rmse,mae,r2}` and `rmse_gap` (test − train RMSE).
    A record may carry only some of them (older manifests, the baseline, tests)."""

    train_rmse: float | None = None
    train_mae: float | None = None
    train_r2: float | None = None
    val_rmse: float | None = None
    val_mae: float | None = None
    val_r2: float | None = None
    test_rmse: float | None = None
    test_mae: float | None = None
    test_r2: float | None = None
    rmse_gap: float | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """A score by name (table columns name them), `default` when absent."""
        value = getattr(self, key, None)
        if value is None:
            value = (self.model_extra or {}).get(key)
        return default if value is None else value


class DatasetSummary(Record):
    """What `preprocess_step` made: datasets/date=<ds>/{train,val,test}.parquet + summary.json in
    the data store (`dataset` is that folder's key),
    and what a version learned from (its manifest's `data`): sources and label scale, rows and
    release-date range per split, the training cutoff (`ds`), the data fingerprint. `demo` marks
    data from the offline sample (IMDb ratings), never mixed with TMDB rows."""

    ds: str
    dataset: str
    rows: int
    labelled: int
    train: int
    val: int
    test: int
    fingerprint: str
    label_scale: str | None = None
    demo: bool = False
    sources: dict[str, int] = Field(default_factory=dict)
    release_dates: dict[str, list[str]] = Field(default_factory=dict)  # split -> [first, last]
    excluded: dict[str, int] = Field(default_factory=dict)  # source -> rows of another scale


class CandidateScore(Record):
    """A candidate as a decision lists it."""

    model_name: str
    metrics: Metrics
    wandb_run_id: str | None = None
    wandb_url: str | None = None


class CandidateSummary(CandidateScore):
    """What `train_step` made: candidates/<run_id>/<model>/{model.joblib,candidate.json} in the
    data store (`model_path` is the store key of model.joblib). The model was fitted on the
    train split only (early stopping on val): `test_*` are held-out scores."""

    ds: str
    run_id: str
    params: dict[str, Any]
    model_path: str
    # the interval's calibration and the training ranges (moviescore.serving), for the manifest
    calibration: dict[str, Any] | None = None
    training_ranges: dict[str, Any] | None = None

    def score(self) -> CandidateScore:
        return CandidateScore(
            model_name=self.model_name,
            metrics=self.metrics,
            wandb_run_id=self.wandb_run_id,
            wandb_url=self.wandb_url,
        )


class PromotionRecord(Record):
    """A promotion decision (runs/<run_id>/decision.json, and inside champion.json). A rollback
    or an older release writes only some fields, so all are optional."""

    ds: str | None = None
    run_id: str | None = None
    promoted: bool | None = None
    reason: str | None = None
    challenger: str | None = None
    previous_champion: str | None = None
    previous_champion_test_rmse: float | None = None
    previous_champion_error: str | None = None
    baseline: Metrics | None = None
    candidates: list[CandidateScore] = Field(default_factory=list)
    data: DatasetSummary | None = None
    champion_version: str | None = None
    # the recipe rule (issue 12): what was judged, what shipped, and how this attempt ended
    action: str | None = None  # "promote" | "refresh" | None (nothing shipped)
    champion_recipe: CandidateScore | None = None  # the champion's recipe refitted and judged
    shipped: dict[str, Any] | None = None  # recipe, rows, rounds and the refit's sanity check
    attempt: int | None = None  # 1 + how many times a concurrent promotion made it re-decide
    attempted_at: str | None = None
    lost_to: list[str] = Field(default_factory=list)  # champions that won a race first


class FileEntry(Record):
    sha256: str
    size: int


class Manifest(Record):
    """models/<version>/manifest.json: the pipeline's fields, then what `Registry.publish` adds
    (version, created_at, files, and signature when keyed)."""

    model_name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: Metrics = Field(default_factory=Metrics)
    feature_schema: list[str] = Field(default_factory=list)
    data_fingerprint: str | None = None
    wandb_run_id: str | None = None
    wandb_url: str | None = None
    run_id: str | None = None
    ds: str | None = None
    # what the API answers with besides the rating (moviescore.serving: interval, warnings)
    calibration: dict[str, Any] | None = None
    training_ranges: dict[str, Any] | None = None
    data: DatasetSummary | None = None  # what it learned from (rows of every split when refit)
    demo: bool = False
    # added by the registry
    version: str | None = None
    created_at: str | None = None
    files: dict[str, FileEntry] | None = None
    signature: dict[str, Any] | None = None


def build_manifest(
    candidate: CandidateScore,
    pipeline: Any,
    *,
    params: Mapping[str, Any],
    run_id: str,
    ds: str | None = None,
    data_fingerprint: str | None = None,
    calibration: Mapping[str, Any] | None = None,
    training_ranges: Mapping[str, Any] | None = None,
    data: DatasetSummary | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Manifest:
    """The manifest of a fitted pipeline about to be published (the registry adds version,
    created_at and files); the feature schema is what its feature step outputs."""
    served = {"calibration": calibration, "training_ranges": training_ranges}
    return Manifest(
        model_name=candidate.model_name,
        params=dict(params),
        metrics=candidate.metrics,
        feature_schema=[str(name) for name in pipeline[0].get_feature_names_out()],
        data_fingerprint=data_fingerprint,
        wandb_run_id=candidate.wandb_run_id,
        wandb_url=candidate.wandb_url,
        run_id=run_id,
        ds=ds,
        # only what exists: a manifest keeps the keys it was built with
        **{key: dict(value) for key, value in served.items() if value is not None},
        **({"data": data, "demo": data.demo} if data is not None else {}),
        **dict(extra or {}),
    )


class ChampionPointer(Record):
    """models/champion.json and each models/history/ entry. `sequence` grows by one per change
    and `previous_version` names the champion it replaced: the history is a chain. Signed
    (`signature`) over every other field when MODEL_SIGNING_KEY is set."""

    version: str = Field(min_length=1)
    sequence: int | None = Field(None, ge=0)  # absent in pointers of older releases
    model_name: str | None = None
    metrics: Metrics = Field(default_factory=Metrics)
    created_at: str | None = None
    promoted_at: str | None = None
    previous_version: str | None = None
    action: str | None = None
    ds: str | None = None  # the training cutoff of the version (its logical date)
    demo: bool = False
    decision: PromotionRecord = Field(default_factory=PromotionRecord)
    signature: dict[str, Any] | None = None


@dataclass(frozen=True)
class ListedVersion:
    """One line of `Registry.list_versions`: its manifest, or why it could not be read."""

    version: str
    champion: bool
    manifest: Manifest | None = None
    error: str | None = None

    @property
    def created_at(self) -> str:
        return (self.manifest.created_at if self.manifest else None) or ""

    def as_json(self) -> dict[str, Any]:
        """The manifest's keys plus `champion` (or `version` and `error`), as /models lists it."""
        doc = self.manifest.dump() if self.manifest else {"version": self.version}
        if self.error is not None:
            doc["error"] = self.error
        return doc | {"champion": self.champion}
