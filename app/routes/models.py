"""GET /model (what is served, from where, since when) and /models (the registry for the UI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from app.model_manager import MAX_REASON_CHARS, ModelManager
from app.schemas import ModelsOverview, ModelStatus
from moviescore.records import RecordError

router = APIRouter(tags=["models"])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def model_status(manager: ModelManager) -> ModelStatus:
    served = manager.served  # one read: the fields below all describe the same model
    status = ModelStatus(
        ready=served is not None,
        poll_seconds=manager.poll_seconds,
        last_poll_at=_iso(manager.last_poll_at),
        last_poll_result=manager.last_poll_result,
        last_success_at=_iso(manager.last_success_at),
        reload_successes=manager.reload_successes,
        reload_failures=manager.reload_failures,
        poll_failures=manager.poll_failures,
        last_error=manager.last_error,
    )
    if served is not None:
        manifest = served.bundle.manifest
        status.version = served.version
        status.model_name = served.model_name
        status.metrics = manifest.metrics.dump()
        status.trained_at = manifest.created_at
        status.promoted_at = served.pointer.promoted_at if served.pointer else None
        status.loaded_at = _iso(served.loaded_at)
        status.source_uri = served.source_uri
        status.wandb_url = manifest.wandb_url
        status.demo = manifest.demo
        status.data = manifest.data.dump() if manifest.data else None
        status.sequence = served.pointer.sequence if served.pointer else None
        status.evaluator = served.scorer.evaluator
    return status


@router.get("/model", response_model=ModelStatus)
async def model(request: Request) -> ModelStatus:
    return model_status(request.app.state.manager)


@router.get(
    "/models", response_model=ModelsOverview, responses={503: {"description": "no registry"}}
)
def models(
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="newest versions and champion changes to list")
    ] = 50,
) -> ModelsOverview:
    # sync: this reads S3 (one GET per listed version), so it runs in the thread pool, away from
    # /predict's event loop; `limit` bounds it however long the registry's history grows.
    manager: ModelManager = request.app.state.manager
    registry: Any = manager.registry
    if registry is None:
        raise HTTPException(503, "this server has no model registry configured")
    skipped: list[RecordError] = []  # records that do not parse: left out and listed
    try:
        try:
            pointer = registry.champion()
        except RecordError as exc:
            pointer = None
            skipped.append(exc)
        versions = registry.list_versions(limit)
        history = registry.history(limit, skipped)
        runs = registry.decisions(skipped=skipped)
        attempts = {
            run.run_id: [_attempt(a) for a in registry.attempts(run.run_id)]
            for run in runs
            if run.run_id
        }
    except Exception as exc:
        raise HTTPException(503, f"model registry unreachable: {exc}") from exc
    served = manager.served
    return ModelsOverview(
        champion=pointer.version if pointer else None,
        served_version=served.version if served else None,
        versions=[v.as_json() for v in versions],  # newest first, each with a `champion` flag
        history=[entry.dump() for entry in history],
        runs=[run.dump() for run in runs],
        attempts=attempts,
        skipped=[{"key": e.key, "reason": e.reason[:MAX_REASON_CHARS]} for e in skipped],
    )


def _attempt(record: Any) -> dict[str, Any]:
    keys = ("attempted_at", "attempt", "action", "promoted", "champion_version", "reason")
    doc: dict[str, Any] = record.dump()
    return {k: doc.get(k) for k in keys} | {"lost_to": doc.get("lost_to", [])}
