"""Champion swaps under steady load: how soon the new version serves, and what fails meanwhile.

    .venv/bin/python -m bench.hot_swap [--swaps 5] [--poll 1] [--replicas 2]

The API (`moviescore serve`, MODEL_POLL_SECONDS=--poll) serves a champion from SeaweedFS while a
bounded async httpx client in its own process (`--client`) keeps CONCURRENCY requests in flight
against POST /predict and logs (time, status, model_version) of every answer. Meanwhile the
benchmark publishes a new version (`Registry.publish`, alternating two trained candidates so each
version is a real, different model) and points the champion at it (`Registry.set_champion`),
`--swaps` times. Delay = first answer carrying the new version − the moment set_champion returned.

`--replicas N` (N > 1) starts N API processes, each polling on its own, as the compose file's
replicas behind nginx do. Each gets its own logging client, and Debian's `wrk` (one process per
replica, `bench/wrk_post.lua`) adds steady load on every one of them for the whole run. A swap's
convergence delay is the latest of the replicas' first answers with the new version. That result
goes to docs/SCALING.md and docs/bench/hot_swap_replicas.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app.schemas import EXAMPLE_MOVIE
from bench.report import ROOT as REPO
from bench.report import Target, machine_note, save_results, table, write_section
from bench.stack import ROOT, publish, serving_stack, train_candidates

CONCURRENCY = 4
SETTLE_SECONDS = 2.0  # the target's slack beyond one poll interval
WRK_CONNECTIONS = 8  # per replica, beside its logging client
SCALING = REPO / "docs" / "SCALING.md"


async def _client(url: str, seconds: float, out: Path) -> None:
    """Load until `out` + ".stop" appears (at most `seconds`); `out` + ".ready" appears at the
    first answer, so the benchmark swaps only once every client is logging (start-up on a busy
    machine is slow)."""
    import httpx

    body = EXAMPLE_MOVIE  # no CSV read: load must run before the first swap
    log: list[tuple[float, int, str | None]] = []
    deadline = time.monotonic() + seconds
    ready, stop = (out.with_name(out.name + suffix) for suffix in (".ready", ".stop"))

    async def one_worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline and not stop.exists():
            try:
                response = await client.post(url, json=body)
                version = response.json().get("model_version") if response.is_success else None
                log.append((time.time(), response.status_code, version))
            except (httpx.HTTPError, ValueError) as exc:
                log.append((time.time(), 0, f"{type(exc).__name__}: {exc}"))
            ready.touch()

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=5.0, limits=limits) as client:
        await asyncio.gather(*(one_worker(client) for _ in range(CONCURRENCY)))
    out.write_text(json.dumps(log))


def _wait_ready(paths: list[Path], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.with_name(p.name + ".ready").exists() for p in paths):
        if time.monotonic() > deadline:
            raise TimeoutError(f"load clients not answering after {timeout:.0f} s")
        time.sleep(0.1)


def analyse(log: list[list[Any]], swaps: list[tuple[float, str]]) -> list[dict[str, Any]]:
    """Per swap: delay to the first answer by the new version, and failures in its window."""
    rows = []
    for i, (at, version) in enumerate(swaps):
        until = swaps[i + 1][0] if i + 1 < len(swaps) else float("inf")
        window = [r for r in log if at <= r[0] < until]
        served = [r[0] for r in window if r[2] == version]
        rows.append(
            {
                "version": version,
                "delay_s": (served[0] - at) if served else None,
                "requests": len(window),
                "failed": sum(1 for r in window if r[1] != 200),
            }
        )
    return rows


def converged(per_replica: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per swap over all replicas: the latest first-answer delay (None if one never served the
    new version), every replica's delay, and the requests and failures of all of them."""
    rows = []
    for swap in zip(*per_replica, strict=True):
        delays = [r["delay_s"] for r in swap]
        rows.append(
            {
                "version": swap[0]["version"],
                "delay_s": None if None in delays else max(delays),
                "replica_delays_s": delays,
                "requests": sum(r["requests"] for r in swap),
                "failed": sum(r["failed"] for r in swap),
            }
        )
    return rows


def run(n_swaps: int, poll: float, replicas: int = 1, gap: float | None = None) -> None:
    from bench.serving import run_wrk

    if replicas > 1 and shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    note = machine_note()
    started = time.monotonic()
    results = train_candidates(("xgboost", "lightgbm"))
    gap = gap or poll + SETTLE_SECONDS + 1.0  # time between swaps: each one can show itself
    load_seconds = 3.0 + n_swaps * gap + 2.0  # the planned run; clients stop when it is over
    with serving_stack(results) as stack:
        urls = [stack.start_api(poll_seconds=poll) for _ in range(replicas)]
        log_paths = [stack.workdir / f"client-{i}.json" for i in range(replicas)]
        body_file = stack.workdir / "body.jsonl"
        body_file.write_text(json.dumps(EXAMPLE_MOVIE) + "\n")
        clients = []
        for url, log_path in zip(urls, log_paths, strict=True):
            cmd = [sys.executable, "-m", "bench.hot_swap", "--client", f"{url}/predict"]
            cmd += ["--seconds", f"{load_seconds + 300:g}", "--out", str(log_path)]
            clients.append(subprocess.Popen(cmd, cwd=ROOT))
        wrk_runs: list[Future[dict[str, Any]]] = []
        pool = ThreadPoolExecutor(max(replicas, 1))
        try:
            _wait_ready(log_paths)
            if replicas > 1:
                wrk_runs = [
                    pool.submit(run_wrk, f"{url}/predict", body_file, WRK_CONNECTIONS, load_seconds)
                    for url in urls
                ]
            began = time.monotonic()
            swaps: list[tuple[float, str]] = []
            models = list(results.values())
            for i in range(n_swaps):  # on a schedule: a slow publish does not shift the rest
                time.sleep(max(0.0, began + 3.0 + i * gap - time.monotonic()))
                result = models[i % len(models)]
                version = publish(stack.registry, result, f"bench hot swap {i + 1}")
                swaps.append((time.time(), version))
            time.sleep(max(gap, began + load_seconds - time.monotonic()))
            for client, log_path in zip(clients, log_paths, strict=True):
                log_path.with_name(log_path.name + ".stop").touch()
                client.wait(60)
            wrk = [run.result(timeout=load_seconds + 60) for run in wrk_runs]
        finally:
            for client in clients:
                if client.poll() is None:
                    client.kill()
                    client.wait()
            pool.shutdown(cancel_futures=True)
        logs = [json.loads(path.read_text()) for path in log_paths]
    rows = converged([analyse(log, swaps) for log in logs])
    requests = sum(len(log) for log in logs) + sum(w["requests"] for w in wrk)
    failed = sum(1 for log in logs for r in log if r[1] != 200) + sum(w["errors"] for w in wrk)
    delays = [r["delay_s"] for r in rows if r["delay_s"] is not None]
    worst = max(delays) if len(delays) == len(rows) else float("inf")
    limit = poll + SETTLE_SECONDS
    elapsed = time.monotonic() - started
    every = f"all {replicas} replicas serve" if replicas > 1 else "new champion served"
    targets = [
        Target(
            f"hot swap: {every} the new champion within one poll interval + 2 s",
            f"worst {worst:.2f} s over {n_swaps} swaps (poll {poll:g} s → limit {limit:g} s)",
            worst <= limit,
        ),
        Target(
            "hot swap: zero failed requests under load during the swaps",
            f"{failed} failed of {requests:,}",
            failed == 0,
        ),
    ]
    load = (
        f"{CONCURRENCY} concurrent POST /predict from an async httpx client in its own process"
        + (
            f" per replica, plus `wrk -t1 -c{WRK_CONNECTIONS}` per replica (bench/wrk_post.lua)"
            if replicas > 1
            else ""
        )
        + f" for {load_seconds:g} s"
    )
    header = ["swap", "version", "delay s"]
    if replicas > 1:
        header += [f"replica {i + 1} s" for i in range(replicas)]
    table_rows = [
        [
            i + 1,
            f"`{r['version']}`",
            "never" if r["delay_s"] is None else f"{r['delay_s']:.2f}",
            *(
                ["never" if d is None else f"{d:.2f}" for d in r["replica_delays_s"]]
                if replicas > 1
                else []
            ),
            r["requests"],
            r["failed"],
        ]
        for i, r in enumerate(rows)
    ]
    name = "hot_swap" if replicas == 1 else "hot_swap_replicas"
    command = "bench.hot_swap" + (f" --replicas {replicas}" if replicas > 1 else "")
    body = "\n\n".join(
        [
            f"## Hot swap{f' on {replicas} replicas' if replicas > 1 else ''} "
            f"(`.venv/bin/python -m {command}`)",
            f"{replicas} × `moviescore serve` with MODEL_POLL_SECONDS={poll:g}, each polling on "
            f"its own, SeaweedFS on loopback; {load}; {n_swaps} swaps, {gap:g} s apart, each a new "
            "version published with `Registry.publish` then `Registry.set_champion` "
            "(alternating a trained XGBoost and LightGBM). Delay = first answer carrying the "
            "new `model_version` − return of `set_champion`"
            + (", the latest over the replicas." if replicas > 1 else "."),
            table([*header, "requests in window", "failed"], table_rows),
            f"All requests: {requests:,}, failed {failed}; "
            f"mean delay {sum(delays) / max(len(delays), 1):.2f} s (expected ≈ poll/2 + load "
            "time of the model; the slowest of N replicas waits longer than one does).",
            f"Run: {note}; took {elapsed:.0f} s.",
        ]
    )
    if replicas > 1:
        write_section(name, body, SCALING)
    else:
        write_section(name, body)
    save_results(name, targets, {"swaps": rows, "requests": requests, "failed": failed, "wrk": wrk})
    for t in targets:
        print(f"{'met ' if t.met else 'MISS'} {t.target}: {t.measured}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=5)
    parser.add_argument("--poll", type=float, default=1.0, help="MODEL_POLL_SECONDS of the API")
    parser.add_argument("--replicas", type=int, default=1, help="API processes, each polling")
    parser.add_argument("--gap", type=float, help="seconds between swaps (poll + 3 s)")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(args.client, args.seconds, args.out))
        return
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    run(args.swaps, args.poll, args.replicas, args.gap)


if __name__ == "__main__":
    main()
