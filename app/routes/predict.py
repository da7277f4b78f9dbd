"""POST /predict and /predict/batch: user descriptions -> raw records -> one pipeline call."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel

from app.model_manager import ServedModel
from app.schemas import BatchIn, BatchPrediction, MovieIn, Prediction, Sentiment

router = APIRouter(tags=["predict"])


def _rounded(rating: float) -> float:
    """The Scorer already clamps to 0-10; two decimals is finer than the model's error, and a
    non-finite rating is a broken model, never an answer."""
    if not math.isfinite(rating):
        raise ValueError(f"model returned {rating}")
    return round(rating, 2)


def served_model(request: Request) -> ServedModel:
    served: ServedModel | None = request.app.state.manager.served
    if served is None:
        raise HTTPException(
            503, "no model loaded yet: the registry has no champion or is unreachable"
        )
    return served


def _predict(request: Request, movies: Sequence[MovieIn]) -> tuple[ServedModel, list[Prediction]]:
    served = served_model(request)  # read the reference once: one model answers the whole call
    ratings, sentiments = served.scorer.score([m.to_record() for m in movies])
    version, name = served.version, served.model_name
    # model_construct: these values come from our own model, validating them again costs
    # ~20 ms per 1,000 movies.
    out = [
        Prediction.model_construct(
            predicted_rating=_rounded(float(rating)),
            model_version=version,
            model_name=name,
            sentiment=Sentiment.model_construct(
                polarity=round(pol, 4), subjectivity=round(subj, 4)
            ),
        )
        for rating, (pol, subj) in zip(ratings, sentiments, strict=True)
    ]
    request.app.state.metrics.predictions.inc(len(out))
    return served, out


def _json(model: BaseModel) -> Response:
    """The answer serialised once by pydantic; FastAPI would otherwise re-validate and re-encode
    it through `response_model` (which stays, for the OpenAPI schema)."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/predict", response_model=Prediction)
async def predict(movie: MovieIn, request: Request) -> Response:
    # async on purpose: the work is ~1 ms of CPU, less than a hop through the thread pool costs.
    return _json(_predict(request, [movie])[1][0])


@router.post("/predict/batch", response_model=BatchPrediction)
def predict_batch(batch: BatchIn, request: Request) -> Response:
    # sync: up to 1000 rows is enough CPU to keep it off the event loop (runs in the thread pool).
    served, predictions = _predict(request, batch.movies)
    return _json(
        BatchPrediction.model_construct(
            model_version=served.version, model_name=served.model_name, predictions=predictions
        )
    )
