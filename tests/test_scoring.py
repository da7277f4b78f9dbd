"""The serving path scores exactly what the fitted pipeline scores, only faster."""

from __future__ import annotations

import numpy as np
import pytest

from moviescore.ingest.partitions import Splits
from moviescore.serving.scoring import Scorer
from moviescore.training.candidates import train_candidate
from moviescore.training.features import sentiment
from moviescore.training.specs import CANDIDATES
from tests.helpers.movies import learnable_splits
from tests.helpers.processes import modules_loaded_by


@pytest.fixture(scope="module")
def splits() -> Splits:
    return learnable_splits()


@pytest.mark.parametrize("name", CANDIDATES)
def test_native_booster_path_equals_the_sklearn_pipeline(name: str, splits: Splits) -> None:
    pipeline = train_candidate(name, splits).pipeline
    scorer = Scorer(pipeline)
    records = splits.test.to_dict("records")
    expected = np.clip(pipeline.predict(splits.test), 0, 10)
    np.testing.assert_allclose(scorer.ratings(splits.test), expected, rtol=1e-5, atol=1e-5)
    ratings, sentiments = scorer.score(records[:3])
    np.testing.assert_allclose(ratings, expected[:3], rtol=1e-5, atol=1e-5)
    for record, pair in zip(records[:3], sentiments, strict=True):
        assert pair == pytest.approx(sentiment(record["overview"]), abs=1e-6)


def test_ratings_are_clamped_to_the_scale(splits: Splits) -> None:
    scorer = Scorer(train_candidate("lightgbm", splits).pipeline)
    scorer._predict = lambda X: np.array([-3.0, 12.0])  # a model gone wild
    assert scorer.ratings(splits.test.head(2)).tolist() == [0.0, 10.0]
    scorer._predict = lambda X: np.array([-3.0, 12.0, np.nan, 6.5])
    ratings, _ = scorer.score(splits.test.head(4).to_dict("records"))
    assert ratings[:2] == [0.0, 10.0] and np.isnan(ratings[2]) and ratings[3] == 6.5
    assert all(type(r) is float for r in ratings)  # plain floats, as JSON is made of


def test_training_and_the_steps_never_load_onnx() -> None:
    """ONNX is the API's concern (the `serve` extra): training imports run without it."""
    serving_only = ("onnx", "onnxruntime", "onnxmltools", "skl2onnx", "xgboost", "lightgbm")
    imports = "moviescore.training.candidates, moviescore.steps"
    assert modules_loaded_by(imports, serving_only) == []
