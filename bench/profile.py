"""Where a server's time goes: py-spy samples of a PID, grouped into named components.

`py-spy record --format raw` writes one collapsed stack per line ("f1 (file:line);f2 …" count).
Each sample is charged to the component of its innermost frame that matches a rule, so numpy
under LightGBM counts as "model predict" and TextBlob under features.py as "sentiment".
py-spy is in the dev dependency group, so `make install` puts it in .venv/bin.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("TextBlob sentiment", ("textblob/",)),
    (
        "model predict",
        (
            *("onnxruntime/", "moviescore/serving/compiled.py"),
            *("lightgbm/", "xgboost/", "sklearn/ensemble", "sklearn/tree"),
        ),
    ),
    ("feature transform (features.py)", ("moviescore/training/features.py",)),
    ("Scorer glue (clamp, sentiment columns)", ("moviescore/serving/scoring.py",)),
    ("sklearn Pipeline overhead", ("sklearn/",)),
    ("pandas", ("pandas/",)),
    (
        "pydantic validation / response serialisation",
        ("pydantic", "fastapi/_compat", "fastapi/encoders"),
    ),
    ("JSON encode/decode", ("json/",)),
    ("metrics middleware (prometheus)", ("app/metrics.py", "prometheus_client/")),
    ("route code (to_record, response dicts)", ("app/routes/", "app/schemas.py")),
    ("Starlette/FastAPI routing and middleware", ("starlette/", "fastapi/", "app/body_limit.py")),
    ("uvicorn HTTP parsing and socket writes", ("uvicorn/", "httptools", "h11")),
    (
        "event loop, thread pool, sockets",
        ("asyncio/", "anyio/", "selectors", "threading.py", "socket"),
    ),
)
FRAME_FILE = re.compile(r"\(([^)]*)\)$")


def py_spy() -> Path | None:
    found = Path(sys.executable).with_name("py-spy")
    return found if found.exists() else (Path(p) if (p := shutil.which("py-spy")) else None)


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """A py-spy recorder on `pid` for `seconds` (None when py-spy is not installed)."""
    exe = py_spy()
    if exe is None:
        return None
    cmd = [str(exe), "record", "-p", str(pid), "-d", f"{seconds:g}", "-r", "200"]
    cmd += ["--format", "raw", "--nonblocking", "-o", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def component(frames: list[str]) -> str:
    for frame in reversed(frames):
        match = FRAME_FILE.search(frame)
        where = match.group(1) if match else frame
        for name, patterns in RULES:
            if any(p in where for p in patterns):
                return name
    return "other"


def shares(raw: Path) -> dict[str, float]:
    """Component -> share of the samples in a raw py-spy file, largest first."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[component(stack.split(";"))] += int(n)
    total = sum(counts.values()) or 1
    return {name: n / total for name, n in counts.most_common()}


def top_frames(raw: Path, k: int = 5) -> list[tuple[str, float]]:
    """The `k` innermost frames (function and file) holding the most samples."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[re.sub(r":\d+\)$", ")", stack.split(";")[-1])] += int(n)
    total = sum(counts.values()) or 1
    return [(frame, n / total) for frame, n in counts.most_common(k)]
