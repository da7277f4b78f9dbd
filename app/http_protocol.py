"""uvicorn's h11 protocol with a deadline for each request head.

h11 caps a request head's size (`h11_max_incomplete_event_size`) but uvicorn sets no time limit
on it: a client that sends half a head and then waits holds its connection for good. Here every
request head must be complete within HEAD_TIMEOUT_SECONDS of the connection opening or of the
previous response; otherwise the client gets a bare 408 and the connection is closed. (The body's
pace is bounded separately, by `app.body_limit`.)
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_SECONDS = 10.0
_TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class H11WithHeadTimeout(H11Protocol):
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

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
        cycle = self.cycle  # a new head, once parsed, starts a new cycle
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_expired, cycle)

    def _head_expired(self, cycle: object) -> None:
        still_waiting = self.cycle is cycle and self.conn.their_state is h11.IDLE
        if still_waiting and not self.transport.is_closing():
            self.transport.write(_TIMEOUT_ANSWER)
            self.transport.close()
