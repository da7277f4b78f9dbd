"""GET /model/vocabulary: the keywords and companies the served model knows, for suggestions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.routes.predict import served_model
from app.schemas import VOCABULARY_RESPONSES, VocabularyOut
from moviescore.serving.vocabulary import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_NAME_CHARS,
    VocabularyField,
)

router = APIRouter(tags=["models"])


@router.get(
    "/model/vocabulary",
    response_model=VocabularyOut,
    summary="Keywords or production companies the served model knows, most used first",
    responses=VOCABULARY_RESPONSES,
)
async def vocabulary(
    request: Request,
    field: Annotated[VocabularyField, Query(description="which list field")],
    prefix: Annotated[
        str, Query(max_length=MAX_NAME_CHARS, description="names starting with this, any case")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="names to list")] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    # async: a prefix lookup in a list built when the model was loaded, no I/O
    served = served_model(request)  # 503 with /ready's words when nothing is loaded
    answer = served.vocabulary.suggest(field, prefix, limit)
    return {"model_version": served.version, **answer}  # checked against VocabularyOut
