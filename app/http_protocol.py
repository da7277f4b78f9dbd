"""uvicorn's httptools protocol with a size and a time limit on each request head.

uvicorn sets neither with httptools: four clients each sending an endless header grew the API by
hundreds of MiB, and half a head followed by silence held a connection for good. Here the bytes
received while a head is incomplete are counted (MAX_HEAD_BYTES, else 431) and every head must
be complete within HEAD_TIMEOUT_SECONDS of the connection opening or of the previous answer
(else 408); either way the connection is closed. (h11's parser has the size limit built in but
costs more CPU per request, see docs/RELIABILITY.md; the body is bounded by `app.body_limit`.)
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line + headers
HEAD_TIMEOUT_SECONDS = 10.0


def _refusal(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class HttpToolsWithHeadLimits(HttpToolsProtocol):
    _in_head = True  # from a connection's first byte until its head is parsed
    _head_bytes = 0
    _heads = 0  # heads parsed on this connection: the timer checks that a new one came
    _head_timer: asyncio.TimerHandle | None = None

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

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._heads += 1
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(
            HEAD_TIMEOUT_SECONDS, self._head_expired, self._heads
        )

    def _head_expired(self, heads_then: int) -> None:
        serving = self.cycle is not None and not self.cycle.response_complete
        if self._heads == heads_then and not serving and not self.transport.is_closing():
            self._refuse(b"408 Request Timeout")

    def _refuse(self, status: bytes) -> None:
        self._in_head = False  # nothing more is read from this connection
        self.transport.write(_refusal(status))
        self.transport.close()
