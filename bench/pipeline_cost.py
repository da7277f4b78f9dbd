"""Wall time and peak memory of each pipeline step, from 1k to 64k movies, data on S3 or disk.

    .venv/bin/python -m bench.pipeline_cost [--sizes 1000 4000 16000 64000] [--budget 900]
                                            [--stores s3 local]

For each size a snapshot file (TMDB 5000 CSV layout) is written to a temp dir: the shared data's
rows sampled (with replacement above its 4,244 movies) under new ids. Each size runs in a fresh
subprocess (`--worker`), so its peak RSS is its own: `pipeline.collect_step`, `preprocess_step`,
`train_step` per candidate (W&B offline, real runs on disk) and `promote_step` against SeaweedFS
(`LocalS3Server`, one bucket per size so no size re-scores another's champion). Per-step peak RSS
is sampled with psutil every 50 ms; the process peak comes from getrusage. A size is skipped when
its linear projection from the previous size would overrun the time budget.

Each size runs once per data store (`--stores`): DATA_STORE=s3 (partitions, datasets and
candidates in the bucket, DATA_DIR a cache; the default) and DATA_STORE=local (DATA_DIR only).
Then the read side of a long history: 64k movies spread over 30, 365 and 1,825 daily partitions,
read back by `read_all_partitions` from each store. The S3-against-disk comparison goes to
docs/SCALING.md, the S3 curve to docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bench.pipeline_store import history_reads, write_store_section
from bench.report import ASSETS, Target, machine_note, save_results, table, write_section
from bench.rss import PeakRss
from bench.stack import DATA, ROOT
from moviescore.local_s3 import LocalS3Server, SeaweedPorts
from moviescore.registry.s3 import ensure_bucket

SIZES = (1_000, 4_000, 16_000, 64_000)
STORES = ("s3", "local")
BUDGET_SECONDS = 900.0  # both stores; the whole benchmark stays under 15 minutes
TARGET_4K_SECONDS = 60.0
DS = "2014-01-01"


def write_snapshot(n: int, out: Path, seed: int = 0) -> Path:
    """`n` rows of the shared CSV (resampled under new ids) as a TMDB 5000 layout CSV."""
    with zipfile.ZipFile(DATA) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(rows), size=n, replace=n > len(rows))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=reader.fieldnames or [])
    writer.writeheader()
    for new_id, i in enumerate(picks, start=1):
        writer.writerow(rows[i] | {"id": str(new_id)})
    out.write_text(buffer.getvalue())
    return out


def worker(n: int, folder: Path) -> dict[str, Any]:
    """Run the four steps on `n` movies (settings come from the environment); timings."""
    from moviescore import steps as pipeline
    from moviescore.training.specs import CANDIDATES

    snapshot = write_snapshot(n, folder / f"movies-{n}.csv")
    steps: dict[str, dict[str, float]] = {}
    candidates = []

    def timed(name: str, fn: Any, *args: Any) -> Any:
        with PeakRss(every=0.05) as rss:
            start = time.perf_counter()
            result = fn(*args)
            seconds = time.perf_counter() - start
        steps[name] = {"seconds": seconds, "peak_rss_mb": rss.peak / 2**20}
        return result

    timed("collect", pipeline.collect_step, DS, "snapshot", str(snapshot))
    prepared = timed("preprocess", pipeline.preprocess_step, DS)
    for name in CANDIDATES:
        candidates.append(timed(f"train {name}", pipeline.train_step, DS, name))
    decision = timed("promote", pipeline.promote_step, DS, candidates)
    return {
        "movies": n,
        "labelled": prepared["labelled"],
        "steps": steps,
        "total_seconds": sum(s["seconds"] for s in steps.values()),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "promoted": decision["promoted"],
        "champion": decision["challenger"],
    }


def run_size(
    n: int, s3: LocalS3Server, root: Path, timeout: float, store: str = "s3"
) -> dict[str, Any]:
    bucket = f"bench-{store}-{n}"
    ensure_bucket(s3.client(), bucket)
    folder = root / f"{store}-{n}"
    folder.mkdir()
    env = os.environ | {
        "DATA_STORE": store,
        "DATA_DIR": str(folder / "data"),
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_BUCKET": bucket,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
    }
    cmd = [sys.executable, "-m", "bench.pipeline_cost", "--worker", str(n), "--dir", str(folder)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"size {n} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - start  # + interpreter and imports
    result["store"] = store
    return result


def plot(results: list[dict[str, Any]], out: Path) -> None:
    sizes = [r["movies"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for step in results[0]["steps"]:
        ax.plot(sizes, [r["steps"][step]["seconds"] for r in results], marker="o", label=step)
    ax.plot(sizes, [r["total_seconds"] for r in results], marker="s", color="black", label="total")
    ref = np.array(sizes, dtype=float)
    ax.plot(ref, results[0]["total_seconds"] * ref / ref[0], ":", color="grey", label="linear")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("movies in the snapshot")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Pipeline cost per step vs movies (log-log)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def slope(results: list[dict[str, Any]]) -> float | None:
    """Log-log slope of total time vs movies (1.0 = linear)."""
    if len(results) < 2:
        return None
    x = np.log([r["movies"] for r in results])
    y = np.log([r["total_seconds"] for r in results])
    return float(np.polyfit(x, y, 1)[0])


def step_slopes(results: list[dict[str, Any]]) -> dict[str, float]:
    """Log-log slope of each step's time between the two largest sizes."""
    if len(results) < 2:
        return {}
    a, b = results[-2], results[-1]
    ratio = np.log(b["movies"] / a["movies"])
    return {
        step: float(np.log(b["steps"][step]["seconds"] / a["steps"][step]["seconds"]) / ratio)
        for step in a["steps"]
    }


def run(sizes: tuple[int, ...], budget: float, stores: tuple[str, ...] = STORES) -> None:
    note = machine_note()
    started = time.monotonic()
    by_store: dict[str, list[dict[str, Any]]] = {store: [] for store in stores}
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="moviescore-cost-") as tmp:
        root = Path(tmp)
        with LocalS3Server(root / "s3", ports=SeaweedPorts.free()) as s3:
            for n in sizes:
                for store in stores:
                    done = by_store[store]
                    left = budget - (time.monotonic() - started)
                    if done:
                        last = done[-1]
                        projected = last["process_seconds"] * n / last["movies"]
                        if projected > left:
                            skipped.append(
                                f"{n:,} movies on {store} skipped: projected {projected:.0f} s "
                                f"(linear from {last['movies']:,}) > {left:.0f} s left of the "
                                f"{budget:.0f} s budget"
                            )
                            continue
                    done.append(run_size(n, s3, root, max(left, 30), store))
                    print(f"{n} on {store}: {done[-1]['total_seconds']:.1f} s", flush=True)
            # after the sizes: a child's peak RSS would start from this process's (fork)
            history = history_reads(s3, root, stores)
    elapsed = time.monotonic() - started
    write_store_section(by_store, history, note)
    results = by_store[stores[0]]
    plot(results, ASSETS / "pipeline_cost.png")
    steps = list(results[0]["steps"])
    rows = [
        [f"{r['movies']:,} ({r['labelled']:,} labelled)"]
        + [f"{r['steps'][s]['seconds']:.1f}" for s in steps]
        + [f"{r['total_seconds']:.1f}", f"{r['process_seconds']:.1f}", f"{r['max_rss_mb']:.0f}"]
        for r in results
    ]
    mem_rows = [
        [f"{r['movies']:,}"] + [f"{r['steps'][s]['peak_rss_mb']:.0f}" for s in steps]
        for r in results
    ]
    k = slope(results)
    at_4k = next((r for r in results if r["movies"] == 4_000), None)
    targets = []
    if at_4k:
        targets.append(
            Target(
                "whole pipeline run at 4k movies (3 models, W&B offline, S3) ≤ 60 s",
                f"{at_4k['total_seconds']:.1f} s in steps, {at_4k['process_seconds']:.1f} s "
                "with interpreter start",
                at_4k["process_seconds"] <= TARGET_4K_SECONDS,
            )
        )
    if k is not None:
        targets.append(
            Target(
                "cost grows linearly in movies (1k → 64k)",
                f"log-log slope {k:.2f} over {results[0]['movies']:,}–{results[-1]['movies']:,}",
                k <= 1.15,
                "" if len(results) == len(sizes) else "; ".join(skipped),
            )
        )
    body = "\n\n".join(
        [
            "## Pipeline cost (`.venv/bin/python -m bench.pipeline_cost`)",
            "Each size in a fresh subprocess: `pipeline.collect_step` (snapshot CSV of the shared "
            "data resampled under new ids) → `preprocess_step` → `train_step` × 3 (W&B offline) "
            f"→ `promote_step` (SeaweedFS on loopback), logical date {DS}. Wall time in seconds; "
            "'process' adds interpreter start and imports.",
            table(["movies", *steps, "total (steps)", "process", "max RSS MB"], rows),
            "Peak RSS (MB) during each step (psutil, 50 ms samples):",
            table(["movies", *steps], mem_rows),
            f"Log-log slope of total time vs movies: {k:.2f} over all sizes, "
            f"{slope(results[-2:]) or 0:.2f} between the two largest (1.00 = linear). Below 1 "
            "because fixed costs per run (W&B init, S3 round trips, model pickling, imports) "
            "dominate the small sizes. Per step, between the two largest sizes: "
            + ", ".join(f"{name} {value:.2f}" for name, value in step_slopes(results).items())
            + "."
            if k is not None
            else "",
            *(f"Cap: {s}." for s in skipped),
            "![pipeline cost](bench/pipeline_cost.png)",
            f"Run: {note}; took {elapsed:.0f} s.",
        ]
    )
    write_section("pipeline_cost", body)
    data = {"results": results, "skipped": skipped, "slope": k, "store": stores[0]}
    data |= {"by_store": by_store, "history": history}
    save_results("pipeline_cost", targets, data)
    for t in targets:
        print(f"{'met ' if t.met else 'MISS'} {t.target}: {t.measured} {t.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.dir)))
        return
    run(tuple(args.sizes), args.budget, tuple(args.stores))


if __name__ == "__main__":
    main()
