"""The registry tests' small bundles, raw bucket access and the history-chain check."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from moviescore.registry.store import Registry

KEY = "correct horse battery staple"
X = np.arange(12, dtype=float).reshape(6, 2)


def tiny_pipeline(constant: float) -> Pipeline:
    y = np.full(len(X), constant)
    return Pipeline([("scale", StandardScaler()), ("model", DummyRegressor())]).fit(X, y)


def manifest_for(name: str, test_rmse: float = 0.8) -> dict[str, Any]:
    return {
        "model_name": name,
        "params": {"n_estimators": np.int64(200)},  # numpy values must survive as plain JSON
        "metrics": {"test_rmse": np.float64(test_rmse), "rmse_gap": 0.1},
        "feature_schema": ["runtime", "budget"],
        "data_fingerprint": "abc123",
        "wandb_run_id": None,
    }


def raw_put(registry: Registry, key: str, body: bytes) -> None:
    registry.client.put_object(Bucket=registry.bucket, Key=key, Body=body)


def raw_json(registry: Registry, key: str) -> dict[str, Any]:
    body = registry.client.get_object(Bucket=registry.bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def assert_chain(registry: Registry) -> list[str]:
    """The history is a chain ending at the pointer: sequences 1..n, each entry's previous
    version the entry before it. Returns the versions, oldest first."""
    entries = list(reversed(registry.history()))
    assert [e.sequence for e in entries] == list(range(1, len(entries) + 1))
    previous = None
    for entry in entries:
        assert entry.previous_version == previous, entry
        previous = entry.version
    pointer = registry.champion()
    assert pointer is not None and pointer.version == previous
    assert pointer.sequence == len(entries)
    return [e.version for e in entries]
