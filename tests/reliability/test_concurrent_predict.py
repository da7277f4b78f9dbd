"""Concurrent /predict requests share model calls (moviescore.serving.coalesce) on the live
server; each must still get exactly the answer it gets alone."""

from __future__ import annotations

import asyncio
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
