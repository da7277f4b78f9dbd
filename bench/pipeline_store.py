"""The data store's share of the pipeline cost: S3 against local disk, for docs/SCALING.md.

Used by `bench.pipeline_cost` (which runs the steps per store): `history_reads` times the read
side of a long history (many daily partitions read back by one `read_all_partitions`), and
`write_store_section` puts both comparisons into docs/SCALING.md.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import ROOT, table, write_section
from moviescore.local_s3 import LocalS3Server
from moviescore.registry.s3 import ensure_bucket

HISTORY_MOVIES = 64_000
HISTORY_DAYS = (30, 365, 1825)  # a month, a year, five years of daily partitions
SCALING = ROOT / "docs" / "SCALING.md"


def history_reads(s3: LocalS3Server, root: Path, stores: tuple[str, ...]) -> list[dict[str, Any]]:
    """Seconds `read_all_partitions` takes for HISTORY_MOVIES spread over each of HISTORY_DAYS
    daily partitions, per store (what preprocess reads after a month, a year, five years)."""
    from datetime import date, timedelta

    from bench.pipeline_cost import write_snapshot
    from moviescore.config import Settings
    from moviescore.ingest.partitions import read_all_partitions, write_partition
    from moviescore.ingest.snapshot import read_snapshot
    from moviescore.ingest.validate import validate_raw
    from moviescore.storage import DataStore

    movies = validate_raw(read_snapshot(write_snapshot(HISTORY_MOVIES, root / "history.csv"))).valid
    rows = []
    for days in HISTORY_DAYS:
        for store in stores:
            bucket = f"history-{store}-{days}"
            ensure_bucket(s3.client(), bucket)
            settings = Settings(
                data_store=store,
                data_dir=root / bucket,
                s3_endpoint_url=s3.endpoint_url,
                s3_bucket=bucket,
            )
            data = DataStore.from_settings(settings)
            start = time.perf_counter()
            bounds = np.linspace(0, len(movies), days + 1).astype(int)
            for day, (a, b) in enumerate(itertools.pairwise(bounds)):
                part = movies.iloc[a:b]
                write_partition(part, date(2014, 1, 1) + timedelta(days=day), settings, data)
            wrote = time.perf_counter() - start
            start = time.perf_counter()
            got = read_all_partitions(settings, store=data)
            rows.append(
                {
                    "days": days,
                    "store": store,
                    "movies": len(got),
                    "write_seconds": wrote,
                    "read_seconds": time.perf_counter() - start,
                }
            )
            print(f"history {days} days on {store}: {rows[-1]['read_seconds']:.1f} s", flush=True)
    return rows


def write_store_section(
    by_store: dict[str, list[dict[str, Any]]], history: list[dict[str, Any]], note: str
) -> None:
    """docs/SCALING.md: each step's time with the data in the bucket against on local disk."""
    if set(by_store) != {"s3", "local"}:
        return
    local = {r["movies"]: r for r in by_store["local"]}
    pairs = [(r, local[r["movies"]]) for r in by_store["s3"] if r["movies"] in local]
    if not pairs:
        return
    steps = list(pairs[0][0]["steps"])
    rows = [
        [f"{s3['movies']:,}"]
        + [
            f"{s3['steps'][step]['seconds']:.1f} / {disk['steps'][step]['seconds']:.1f}"
            for step in steps
        ]
        + [
            f"{s3['total_seconds']:.1f} / {disk['total_seconds']:.1f}",
            f"{s3['total_seconds'] - disk['total_seconds']:+.1f}",
            f"{s3['max_rss_mb']:.0f} / {disk['max_rss_mb']:.0f}",
        ]
        for s3, disk in pairs
    ]
    reads = {(h["days"], h["store"]): h for h in history}
    history_rows = [
        [
            f"{days:,}",
            f"{HISTORY_MOVIES // days:,}",
            " / ".join(f"{reads[days, st]['write_seconds']:.1f}" for st in ("s3", "local")),
            " / ".join(f"{reads[days, st]['read_seconds']:.2f}" for st in ("s3", "local")),
        ]
        for days in HISTORY_DAYS
        if (days, "s3") in reads and (days, "local") in reads
    ]
    body = "\n\n".join(
        [
            "### Measured: data on S3 against local disk "
            "(`.venv/bin/python -m bench.pipeline_cost`)",
            "The four steps in a fresh process per size and store, as in docs/BENCHMARKS.md "
            "(snapshot of the shared data resampled under new ids, 3 candidates, W&B offline, "
            "the registry on SeaweedFS either way). Each cell: seconds with DATA_STORE=s3 "
            "(SeaweedFS on loopback) / with DATA_STORE=local (DATA_DIR on disk).",
            table(["movies", *steps, "total", "S3 − disk", "max RSS MB"], rows),
            f"The read side of a long history: {HISTORY_MOVIES:,} movies spread over N daily "
            "partitions, written one `write_partition` each, then read back by one "
            "`read_all_partitions` (what every preprocess does), S3 / disk seconds:",
            table(["partitions", "movies each", "write all", "read all"], history_rows),
            f"Run: {note}.",
        ]
    )
    write_section("pipeline_store", body, SCALING)
