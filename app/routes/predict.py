"""POST /predict and /predict/batch: user descriptions -> raw records -> one pipeline call."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from app.json_body import StrictJSONRoute
from app.model_manager import ServedModel
from app.schemas import (
    BATCH_RESPONSES,
    PREDICT_RESPONSES,
    BatchIn,
    BatchPrediction,
    MovieIn,
    Prediction,
)

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


def _prediction(
    record: dict[str, Any],
    rating: float,
    sentiment: tuple[float, float],
    served: ServedModel,
) -> Any:
    """One `Prediction` as a plain dict (see `_json`)."""
    polarity, subjectivity = sentiment
    rounded = _rounded(rating)
    return {
        "predicted_rating": rounded,
        **served.identity,
        "sentiment": {"polarity": round(polarity, 4), "subjectivity": round(subjectivity, 4)},
        **served.answers.extras(record, rounded),
    }


def _inputs(
    request: Request, movies: Sequence[MovieIn]
) -> tuple[bool, ServedModel, list[dict[str, Any]]]:
    """(explain?, the model that answers the whole call, the raw records)."""
    explain = _explain(request)  # a bad flag is a 422 even when no model is loaded (503)
    served = served_model(request)  # read the reference once: one model answers the whole call
    return explain, served, [m.to_record() for m in movies]


def _predict(request: Request, movies: Sequence[MovieIn]) -> tuple[ServedModel, list[Any]]:
    """/predict/batch's answers, scored in one model call (in the thread pool)."""
    explain, served, records = _inputs(request, movies)
    return served, _answers(request, served, records, served.scorer.score(records), explain)


async def _predict_one(request: Request, movie: MovieIn) -> Any:
    """/predict's answer: its model call is shared with the requests ready at the same time."""
    explain, served, records = _inputs(request, [movie])
    scored = await served.scorer.score_together(records)
    return _answers(request, served, records, scored, explain)[0]


def _answers(
    request: Request,
    served: ServedModel,
    records: list[dict[str, Any]],
    scored: tuple[list[float], list[tuple[float, float]]],
    explain: bool,
) -> list[Any]:
    out = [_prediction(*row, served) for row in zip(records, *scored, strict=True)]
    if explain:
        for item, extra in zip(out, served.answers.explain(records), strict=True):
            item["warnings"] += extra.pop("warnings")
            item |= extra
    request.app.state.metrics.predictions.inc(len(out))
    return out


def _json(payload: dict[str, Any]) -> Response:
    """Plain dicts shaped as the declared response model: these values come from our own model,
    and building pydantic objects just to serialise them cost more than scoring one movie does.
    Every response is checked against the OpenAPI schema in tests (schemathesis, live)."""
    return Response(_ENCODER.encode(payload), media_type="application/json")


# `?explain=` is read by `_explain` rather than declared as a Query parameter: FastAPI's
# per-request handling of one declared query parameter cost as much as the model's prediction
# (docs/BENCHMARKS.md). It is documented here and parsed by the same pydantic bool rules.
EXPLAIN_PARAMETER = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False, "title": "Explain"},
    "description": "also answer `explanation` (how each group of inputs moved the rating) and "
    "`comparables` (the 5 most similar films the model learned from)",
}
_BOOL = TypeAdapter(bool)


def _explain(request: Request) -> bool:
    """The `explain` query flag: the last value given wins, as for a declared parameter, and a
    value that is not a bool ("maybe") is the same 422 a declared one would be."""
    if not request.scope["query_string"]:  # the common case costs one lookup
        return False
    values = request.query_params.getlist("explain")
    if not values:
        return False
    try:
        return _BOOL.validate_python(values[-1])
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", "explain")} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post(
    "/predict",
    response_model=Prediction,
    summary="Predict one film's rating, with its interval and warnings",
    responses=PREDICT_RESPONSES,
    openapi_extra={"parameters": [EXPLAIN_PARAMETER]},
)
async def predict(movie: MovieIn, request: Request) -> Response:
    # async on purpose: the work is less CPU than a hop through the thread pool costs.
    return _json(await _predict_one(request, movie))


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    summary="Predict up to 1,000 films in one call",
    responses=BATCH_RESPONSES,
    openapi_extra={"parameters": [EXPLAIN_PARAMETER]},
)
def predict_batch(batch: BatchIn, request: Request) -> Response:
    # sync: up to 1000 rows is enough CPU to keep it off the event loop (runs in the thread pool).
    served, predictions = _predict(request, batch.movies)
    return _json(served.identity | {"predictions": predictions})
