"""The FastAPI application: `create_app()` wires settings, the model manager, metrics and routes.

The lifespan starts the manager's poll thread and returns at once: the API answers /health
immediately and /ready turns 200 when the first champion is loaded, so a slow or absent
registry never blocks start-up.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline

from app.body_limit import MAX_BODY_BYTES, BodyLimitMiddleware
from app.http_protocol import HttpToolsWithLimits
from app.json_body import validation_error
from app.metrics import Metrics, MetricsMiddleware
from app.model_manager import ModelManager
from app.routes import health, models, predict, vocabulary
from moviescore.config import Settings, get_settings

log = logging.getLogger(__name__)

# How every server of this app runs (`moviescore serve`, the image, the benches): httptools with
# a size and a time limit on each request head and a time limit on its body (app.http_protocol).
SERVER_OPTIONS: dict[str, Any] = {
    "http": HttpToolsWithLimits,
    "timeout_keep_alive": 5,  # an idle kept-alive connection is closed after this
    "access_log": False,
}


def make_manager(settings: Settings) -> ModelManager:
    from moviescore.registry.store import Registry  # boto3 client built here, not at import

    return ModelManager(Registry.from_settings(settings), poll_seconds=settings.model_poll_seconds)


def create_app(
    settings: Settings | None = None,
    manager: ModelManager | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    settings = settings or get_settings()
    manager = manager or make_manager(settings)
    metrics = Metrics(manager)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager.start()
        try:
            yield
        finally:
            manager.stop()

    # /docs and /redoc load Swagger UI and ReDoc from files in the fastapi-offline package,
    # served under /static-offline-docs: they render on a machine that cannot reach a CDN.
    app = FastAPIOffline(
        title="moviescore",
        summary="Predict a film's TMDB rating before release.",
        description="Describe a movie that has not been released yet and get the rating "
        "(TMDB vote_average, 0-10) it is likely to earn, from the current champion model.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.manager = manager
    app.state.metrics = metrics
    app.add_exception_handler(RequestValidationError, validation_error)
    docs_routes = list(app.router.routes)  # /openapi.json, /docs, /redoc and their assets
    app.include_router(predict.router)
    app.include_router(models.router)
    app.include_router(vocabulary.router)
    app.include_router(health.router)
    # A request is matched against the routes in order: the API's first, the docs' pages after.
    app.router.routes[:] = [r for r in app.router.routes if r not in docs_routes] + docs_routes
    # Last added runs first: metrics see every request, including the ones refused for size.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=max_body_bytes,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def run_server(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve `create_app()` with uvicorn (what `moviescore serve` runs)."""
    import uvicorn

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        **SERVER_OPTIONS,
    )
