"""Requests ready together share one model call, and each gets exactly its own rows back."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from moviescore.serving.coalesce import Coalescer


class CountingModel:
    """Row i -> 10 * its first value + its row count in that call: wrong rows would show."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.calls.append(len(X))
        return X[:, 0] * 10


def rows(*values: float) -> np.ndarray:
    return np.array([[v, 0.0] for v in values], dtype=np.float32)


def test_callers_ready_together_share_one_call_and_get_their_own_rows() -> None:
    model = CountingModel()
    coalescer = Coalescer(model)

    async def main() -> list[np.ndarray]:
        return await asyncio.gather(
            coalescer(rows(1)), coalescer(rows(2, 3)), coalescer(rows(4)), coalescer(rows(5))
        )

    out = asyncio.run(main())
    assert model.calls == [5]
    assert [o.tolist() for o in out] == [[10], [20, 30], [40], [50]]


def test_a_lone_caller_gets_a_call_of_its_own_and_later_ones_a_new_call() -> None:
    model = CountingModel()
    coalescer = Coalescer(model)

    async def main() -> list[list[float]]:
        first = await coalescer(rows(1))
        second = await coalescer(rows(2))
        return [first.tolist(), second.tolist()]

    assert asyncio.run(main()) == [[10], [20]]
    assert model.calls == [1, 1]


def test_a_failing_model_fails_every_caller_and_leaves_none_waiting() -> None:
    def broken(X: np.ndarray) -> np.ndarray:
        raise RuntimeError("model gone")

    coalescer = Coalescer(broken)

    async def main() -> list[object]:
        return await asyncio.gather(coalescer(rows(1)), coalescer(rows(2)), return_exceptions=True)

    out = asyncio.run(asyncio.wait_for(main(), 5))
    assert [str(e) for e in out] == ["model gone", "model gone"]

    async def after() -> list[float]:  # the next call is not stuck behind the failed batch
        return (await Coalescer(CountingModel())(rows(3))).tolist()

    assert asyncio.run(after()) == [30]


def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    model = CountingModel()
    coalescer = Coalescer(model)

    async def main() -> list[float]:
        doomed = asyncio.ensure_future(coalescer(rows(1)))
        kept = asyncio.ensure_future(coalescer(rows(2)))
        await asyncio.sleep(0)  # both have added their rows
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        return (await kept).tolist()

    assert asyncio.run(main()) == [20]


def test_callers_on_different_event_loops_are_never_mixed() -> None:
    """Each thread's loop resolves only its own futures (the API runs one loop, tests more)."""
    model = CountingModel()
    coalescer = Coalescer(model)
    results: dict[int, list[float]] = {}

    def run(value: int) -> None:
        async def main() -> list[np.ndarray]:
            return await asyncio.gather(*(coalescer(rows(value)) for _ in range(50)))

        results[value] = [float(o[0]) for o in asyncio.run(main())]

    threads = [threading.Thread(target=run, args=(v,)) for v in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {v: [10.0 * v] * 50 for v in (1, 2, 3)}
    assert sum(model.calls) == 150
