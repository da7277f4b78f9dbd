"""Bound the size of one request body (413).

A declared Content-Length over the limit is refused at once; a chunked body is counted as it
arrives and refused as soon as it crosses the limit. How long a body may take to arrive is the
server protocol's limit (`app.http_protocol`, 408), where no per-request timer is needed.
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
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                detail = (
                    BodyTooLarge(self.max_bytes).detail
                    if declared.isdigit()
                    else "bad Content-Length"
                )
                status = 413 if declared.isdigit() else 400
                await JSONResponse({"detail": detail}, status)(scope, receive, send)
                return
            # The HTTP parser delivers exactly the declared bytes: nothing left to count.
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:  # a chunked body: counted as it arrives
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
