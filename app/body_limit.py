"""Refuse request bodies above a size limit with 413, before they are buffered and parsed.

A declared Content-Length over the limit is refused at once; a chunked body is counted as it
arrives and refused as soon as it crosses the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2 * 1024 * 1024  # a full batch of 1000 long movies is well under this


class BodyTooLarge(HTTPException):
    # An HTTPException: FastAPI re-raises those from body reading instead of turning them into 400.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            detail = (
                BodyTooLarge(self.max_bytes).detail if declared.isdigit() else "bad Content-Length"
            )
            await JSONResponse({"detail": detail}, 413 if declared.isdigit() else 400)(
                scope, receive, send
            )
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
