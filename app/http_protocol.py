"""uvicorn's httptools protocol with a size and a time limit on each request head, and a time
limit on its body.

uvicorn sets none of them with httptools: four clients each sending an endless header grew the
API by hundreds of MiB, half a head followed by silence held a connection for good, and so did a
body that stopped arriving. Here the bytes received while a head is incomplete are counted
(MAX_HEAD_BYTES, else 431); every head must be complete within HEAD_TIMEOUT_SECONDS of the
connection opening or of the previous answer, and every body within REQUEST_BODY_TIMEOUT_SECONDS
of its head (else 408); either way the connection is closed. The timers live here, where the
parser sees a request complete, rather than around each ASGI `receive`, which cost every request
an asyncio timeout (docs/BENCHMARKS.md). h11's parser has the head size limit built in but costs
more CPU per request (docs/RELIABILITY.md); the body's size is bounded by `app.body_limit`.
"""

from __future__ import annotations

import asyncio
import functools
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line + headers
HEAD_TIMEOUT_SECONDS = 10.0


@functools.cache
def body_timeout_seconds() -> float:
    """REQUEST_BODY_TIMEOUT_SECONDS, read once per process (not per connection)."""
    from moviescore.config import get_settings

    return get_settings().request_body_timeout_seconds


def _refusal(status: bytes, detail: str = "") -> bytes:
    body = json.dumps({"detail": detail}).encode() if detail else b""
    head = b"HTTP/1.1 " + status + b"\r\nconnection: close\r\n"
    if body:
        head += b"content-type: application/json\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


class HttpToolsWithLimits(HttpToolsProtocol):
    _in_head = True  # from a connection's first byte until its head is parsed
    _head_bytes = 0
    _heads = 0  # heads parsed on this connection: the timer checks that a new one came
    _head_timer: asyncio.TimerHandle | None = None
    _body_pending = False  # a head is parsed and its body is not complete yet
    _body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        inside_a_head, heads = self._in_head, self._heads
        super().data_received(data)
        # Only a read that both starts and ends inside one unfinished head counts: a read that
        # also carries a body or another request is never mistaken for header bytes, and at most
        # one read (the one a head starts in) goes uncounted.
        if inside_a_head and self._in_head and self._heads == heads:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._refuse(b"431 Request Header Fields Too Large")
        # A request whose body came with its head (nearly all) never arms this timer.
        if self._body_pending and self._body_timer is None and not self.transport.is_closing():
            self._body_timer = self.loop.call_later(body_timeout_seconds(), self._body_expired)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head, self._body_pending = False, True
        self._heads += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_pending = False
        self._cancel_body_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(
            HEAD_TIMEOUT_SECONDS, self._head_expired, self._heads
        )

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_expired(self, heads_then: int) -> None:
        serving = self.cycle is not None and not self.cycle.response_complete
        if self._heads == heads_then and not serving and not self.transport.is_closing():
            self._refuse(b"408 Request Timeout")

    def _body_expired(self) -> None:
        self._body_timer = None
        if not self._body_pending or self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # answered without its body (e.g. 413): no second answer
            return
        detail = f"request body not received within {body_timeout_seconds():g} s"
        self._refuse(b"408 Request Timeout", detail)

    def _refuse(self, status: bytes, detail: str = "") -> None:
        self._in_head = False  # nothing more is read from this connection
        self.transport.write(_refusal(status, detail))
        self.transport.close()
