"""A champion whose regressor the API cannot compile to ONNX Runtime: a live API keeps serving it
through the library's own predict — slower, the same numbers — and says so."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from app.schemas import MovieIn
from moviescore.config import Settings
from moviescore.registry.store import Registry
from moviescore.training.features import make_pipeline
from tests.helpers import live
from tests.helpers.movies import learnable_records

pytestmark = pytest.mark.integration

MOVIE = {"title": "Native", "original_language": "fr", "release_date": "2027-03-01", "runtime": 95}


def test_an_uncompilable_champion_is_served_by_its_library(
    s3_settings: Settings, live_api: Any
) -> None:
    registry = Registry.from_settings(s3_settings)
    records, ratings = learnable_records(seed=3)
    pipeline = make_pipeline(HistGradientBoostingRegressor(max_iter=30, random_state=0))
    pipeline.fit(records, ratings)
    version = registry.publish(pipeline, live.manifest_for(pipeline, "hist_gradient_boosting"))
    registry.set_champion(version, {"promoted": True, "reason": "a model with no ONNX converter"})

    api = live_api(dict(os.environ) | {"MODEL_POLL_SECONDS": "0.5"})
    status = api.model()
    assert (status["version"], status["evaluator"]) == (version, "native")
    answer = api.post("/predict", MOVIE)
    assert answer.status_code == 200, answer.text
    record = MovieIn.model_validate(MOVIE).to_record()  # what the API scores
    expected = float(np.clip(pipeline.predict([record]), 0, 10)[0])
    assert answer.json()["predicted_rating"] == pytest.approx(expected, abs=0.006)
    log = api.log.read_text()
    assert "no ONNX converter for HistGradientBoostingRegressor" in log
