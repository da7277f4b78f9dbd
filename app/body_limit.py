"""Bound what one request body may cost: its size (413) and the time it takes to arrive (408).

A declared Content-Length over the limit is refused at once; a chunked body is counted as it
arrives and refused as soon as it crosses the limit. The whole body must arrive within
`timeout` seconds of the first read, so a client that dribbles it cannot hold a request open
(uvicorn bounds the request head, see `app.main.SERVER_OPTIONS`, but not the body's pace).
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2 * 1024 * 1024  # a full batch of 1000 long movies is well under this
BODY_TIMEOUT_SECONDS = 30.0  # 2 MiB at ~0.6 Mbit/s


class BodyTooLarge(HTTPException):
    # An HTTPException: FastAPI re-raises those from body reading instead of turning them into 400.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyTooSlow(HTTPException):
    def __init__(self, timeout: float) -> None:
        super().__init__(408, f"request body not received within {timeout:g} s")


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, timeout: float = BODY_TIMEOUT_SECONDS
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

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
        complete = False
        deadline: float | None = None

        async def counted() -> Message:
            nonlocal received, complete, deadline
            if complete:  # after the body: a wait for http.disconnect, not ours to time
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, counted, send)
