"""Liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.schemas import Status

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Status)
async def health() -> Status:
    """The process is up (says nothing about the model: see /ready)."""
    return Status(status="ok")


@router.get("/ready", response_model=Status, responses={503: {"model": Status}})
async def ready(request: Request) -> Response | Status:
    manager = request.app.state.manager
    served = manager.served
    if served is None:
        detail = manager.not_ready_reason()
        return JSONResponse(Status(status="not ready", detail=detail).model_dump(), 503)
    detail = f"serving {served.version}"
    if manager.last_poll_result == "bad_pointer":  # still serving, but cannot follow the pointer
        detail += f"; {manager.last_error}"
    return Status(status="ready", detail=detail)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
