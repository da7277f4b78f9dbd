"""Peak resident memory of a process during a `with` block, sampled with psutil on a thread."""

from __future__ import annotations

import contextlib
import threading

import psutil


class PeakRss:
    """Peak RSS in bytes of `pid` (default: this process), sampled every `every` seconds.

    Sampled once on entry and once on exit too, so even a block shorter than `every` is seen.
    """

    def __init__(self, pid: int | None = None, every: float = 0.1) -> None:
        self.proc, self.every, self.peak = psutil.Process(pid), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):  # a process gone keeps its last peak
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> PeakRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2 * self.every + 1)
        self._sample()
