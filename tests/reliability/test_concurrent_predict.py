"""Concurrent /predict requests share model calls (moviescore.serving.coalesce) on the live
server; each must still get exactly the answer it gets alone."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
from typing import Any

import httpx
import pytest
from reliability.probes import ServedAPI

from app.schemas import EXAMPLE_MOVIE

pytestmark = pytest.mark.integration

CLIENTS = 32  # connections, as in the serving benchmark
REQUESTS = 160


def movie(i: int) -> dict[str, Any]:
    return EXAMPLE_MOVIE | {
        "title": f"Film {i}",
        "overview": f"{EXAMPLE_MOVIE['overview']} Chapter {i} is {'good' if i % 2 else 'bad'}.",
        "budget": 1_000_000 * (1 + i % 40),
        "runtime": 80 + i % 70,
        "release_date": f"{2000 + i % 25}-0{1 + i % 9}-15",
    }


def test_concurrent_requests_each_get_their_own_answer(served_api: ServedAPI) -> None:
    movies = [movie(i) for i in range(REQUESTS)]
    with httpx.Client(timeout=10) as client:
        alone = [client.post(served_api.url + "/predict", json=m).json() for m in movies]

    async def together() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            answers = await asyncio.gather(
                *(client.post(served_api.url + "/predict", json=m) for m in movies)
            )
        assert {a.status_code for a in answers} == {200}
        return [a.json() for a in answers]

    assert len({a["predicted_rating"] for a in alone}) > REQUESTS // 4  # a mix-up would show
    assert asyncio.run(together()) == alone


def _counter(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    match = re.search(rf"^{name}_total (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_requests_ready_together_share_one_model_call(served_api: ServedAPI) -> None:
    """The server is paused (SIGSTOP) while CLIENTS connections each send a request, so all
    are ready in the same loop turn when it resumes: /metrics must show them sharing a call."""
    host, port = served_api.url.removeprefix("http://").split(":")
    movies = [movie(i) for i in range(CLIENTS)]
    with httpx.Client(timeout=10) as client:
        alone = [client.post(served_api.url + "/predict", json=m).json() for m in movies]
    calls = _counter(served_api.url, "moviescore_model_calls")
    rows = _counter(served_api.url, "moviescore_model_call_rows")
    sockets = [socket.create_connection((host, int(port)), timeout=10) for _ in movies]
    try:
        os.kill(served_api.pid, signal.SIGSTOP)
        try:
            for sock, m in zip(sockets, movies, strict=True):
                body = json.dumps(m).encode()
                sock.sendall(
                    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
        finally:
            os.kill(served_api.pid, signal.SIGCONT)
        together = []
        for sock in sockets:
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 200
            together.append(json.loads(response.read()))
    finally:
        for sock in sockets:
            sock.close()
    assert together == alone
    shared_rows = _counter(served_api.url, "moviescore_model_call_rows") - rows
    shared_calls = _counter(served_api.url, "moviescore_model_calls") - calls
    # All were ready at once: one call, or a few if some connections were accepted only on resume.
    assert shared_rows == CLIENTS and shared_calls < CLIENTS, (shared_calls, shared_rows)
