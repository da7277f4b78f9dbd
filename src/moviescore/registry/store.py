"""The model registry on S3: versioned bundles, a champion pointer, its history, run decisions.

Layout in the bucket:

    models/<version>/model.joblib     the fitted sklearn Pipeline
    models/<version>/manifest.json    caller's fields (model_name, params, metrics, feature_schema,
                                      data_fingerprint, wandb_run_id, …) + version, created_at,
                                      files {name: {sha256, size}}, and `signature` when keyed
    models/champion.json              the serving pointer: version, sequence, previous_version
                                      and the decision; written LAST, by a compare-and-swap
    models/history/seq-<sequence>.json  one object per champion change, written once
                                      (If-None-Match: *) after the pointer moved; a chain
    runs/<run_id>/attempts/<UTC>.json every promotion attempt of a run, never overwritten
    runs/<run_id>/decision.json       the latest attempt's decision, promoted or not

A version id is `YYYYmmdd-HHMMSS-<model>-<6 hex>` (UTC): sortable by time, unique, readable.
Readers never see a pointer to a half-written version. The parts: `base` (keys, errors, record
reads), `versions` (publish, verify, load, list), `champion` (the compare-and-swap pointer, its
history, rollback) and `runs` (promotion attempts and decisions); `Registry` is all of them.
"""

from __future__ import annotations

from moviescore.config import Settings, get_settings
from moviescore.registry.base import (
    CHAMPION_KEY,
    ChampionChanged,
    IntegrityError,
    PointerRefused,
    RegistryError,
    VersionNotFound,
)
from moviescore.registry.champion import Champion, ChampionState
from moviescore.registry.runs import Runs
from moviescore.registry.s3 import make_client
from moviescore.registry.versions import ModelBundle

# What callers import from here; each part's own names live in its module.
__all__ = [
    "CHAMPION_KEY",
    "ChampionChanged",
    "ChampionState",
    "IntegrityError",
    "ModelBundle",
    "PointerRefused",
    "Registry",
    "RegistryError",
    "VersionNotFound",
]


class Registry(Champion, Runs):
    """The model registry on S3 (see the module docstring)."""

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Registry:
        settings = settings or get_settings()
        key = settings.model_signing_key
        return cls(
            make_client(settings),
            settings.s3_bucket,
            signing_key=key.get_secret_value() if key else None,
        )
