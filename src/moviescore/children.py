"""Child processes that cannot outlive the process that started them, however it ends.

A parent that is SIGKILLed (or OOM-killed, or a crashed test run) runs no cleanup, so a server
it started would keep running with its ports bound. On Linux the kernel can send the child a
signal when its parent dies (`prctl(PR_SET_PDEATHSIG)`), set in the child between fork and exec.
The signal follows the *thread* that forked the child: start children from a thread that lives
as long as they should (the main thread, in every use here).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when this process dies; None where
    the kernel offers no such thing (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)  # loaded before the fork
    parent = os.getpid()

    def set_death_signal() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            os._exit(126)  # refuse to become a child that could be orphaned
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return set_death_signal
