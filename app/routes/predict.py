"""POST /predict and /predict/batch: user descriptions -> raw records -> one pipeline call."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from app.json_body import StrictJSONRoute
from app.model_manager import ServedModel
from app.schemas import BatchIn, BatchPrediction, MovieIn, Prediction

router = APIRouter(tags=["predict"], route_class=StrictJSONRoute)
# One encoder: json.dumps with any non-default option builds a new one per call.
_ENCODER = json.JSONEncoder(allow_nan=False)


def _rounded(rating: float) -> float:
    """The Scorer already clamps to 0-10; two decimals is finer than the model's error, and a
    non-finite rating is a broken model, never an answer."""
    if not math.isfinite(rating):
        raise ValueError(f"model returned {rating}")
    return round(rating, 2)


def served_model(request: Request) -> ServedModel:
    manager = request.app.state.manager
    served: ServedModel | None = manager.served
    if served is None:
        raise HTTPException(503, manager.not_ready_reason())  # the same words as /ready
    return served


def _prediction(rating: float, sentiment: tuple[float, float], model: dict[str, str]) -> Any:
    """One `Prediction` as a plain dict (see `_json`)."""
    polarity, subjectivity = sentiment
    return {
        "predicted_rating": _rounded(rating),
        **model,
        "sentiment": {"polarity": round(polarity, 4), "subjectivity": round(subjectivity, 4)},
    }


def _predict(request: Request, movies: Sequence[MovieIn]) -> tuple[ServedModel, list[Any]]:
    served = served_model(request)  # read the reference once: one model answers the whole call
    ratings, sentiments = served.scorer.score([m.to_record() for m in movies])
    out = [_prediction(r, s, served.identity) for r, s in zip(ratings, sentiments, strict=True)]
    request.app.state.metrics.predictions.inc(len(out))
    return served, out


def _json(payload: dict[str, Any]) -> Response:
    """Plain dicts shaped as the declared response model: these values come from our own model,
    and building pydantic objects just to serialise them cost more than scoring one movie does.
    Every response is checked against the OpenAPI schema in tests (schemathesis, live)."""
    return Response(_ENCODER.encode(payload), media_type="application/json")


@router.post("/predict", response_model=Prediction)
async def predict(movie: MovieIn, request: Request) -> Response:
    # async on purpose: the work is less CPU than a hop through the thread pool costs.
    return _json(_predict(request, [movie])[1][0])


@router.post("/predict/batch", response_model=BatchPrediction)
def predict_batch(batch: BatchIn, request: Request) -> Response:
    # sync: up to 1000 rows is enough CPU to keep it off the event loop (runs in the thread pool).
    served, predictions = _predict(request, batch.movies)
    return _json(served.identity | {"predictions": predictions})
