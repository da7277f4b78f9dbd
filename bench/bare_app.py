"""The yardstick: a bare FastAPI JSON endpoint under the same uvicorn settings as `run_server`.

    .venv/bin/python -m bench.bare_app --port P

POST /predict parses the same JSON body into a dict and answers a small JSON object, with no
validation and no model: what the framework and server alone cost.
"""

from __future__ import annotations

import argparse
from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(title="bare")

    @app.post("/predict")
    async def predict(body: dict[str, Any]) -> dict[str, Any]:
        return {"predicted_rating": 6.5, "model_version": "bare", "fields": len(body)}

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    import uvicorn

    from app.main import SERVER_OPTIONS

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Same arguments as app.main.run_server: one worker, factory, no access log.
    uvicorn.run(
        "bench.bare_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        **SERVER_OPTIONS,
    )


if __name__ == "__main__":
    main()
