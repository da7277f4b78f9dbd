"""Champion swaps under steady load: how soon the new version serves, and what fails meanwhile.

    .venv/bin/python -m bench.hot_swap [--swaps 5] [--poll 1]

The API (`moviescore serve`, MODEL_POLL_SECONDS=--poll) serves a champion from SeaweedFS while a
bounded async httpx client in its own process (`--client`) keeps CONCURRENCY requests in flight
against POST /predict and logs (time, status, model_version) of every answer. Meanwhile the
benchmark publishes a new version (`Registry.publish`, alternating two trained candidates so each
version is a real, different model) and points the champion at it (`Registry.set_champion`),
`--swaps` times. Delay = first answer carrying the new version − the moment set_champion returned.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.schemas import EXAMPLE_MOVIE
from bench.report import Target, machine_note, save_results, table, write_section
from bench.stack import ROOT, publish, serving_stack, train_candidates

CONCURRENCY = 4
SETTLE_SECONDS = 2.0  # the target's slack beyond one poll interval


async def _client(url: str, seconds: float, out: Path) -> None:
    import httpx

    body = EXAMPLE_MOVIE  # no CSV read: load must run before the first swap, 3 s after start
    log: list[tuple[float, int, str | None]] = []
    deadline = time.monotonic() + seconds

    async def one_worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                response = await client.post(url, json=body)
                version = response.json().get("model_version") if response.is_success else None
                log.append((time.time(), response.status_code, version))
            except (httpx.HTTPError, ValueError) as exc:
                log.append((time.time(), 0, f"{type(exc).__name__}: {exc}"))

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=5.0, limits=limits) as client:
        await asyncio.gather(*(one_worker(client) for _ in range(CONCURRENCY)))
    out.write_text(json.dumps(log))


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


def run(n_swaps: int, poll: float) -> None:
    note = machine_note()
    started = time.monotonic()
    results = train_candidates(("xgboost", "lightgbm"))
    gap = poll + SETTLE_SECONDS + 1.0  # time between swaps: each one can show itself
    load_seconds = 3.0 + n_swaps * gap + 2.0
    with serving_stack(results) as stack:
        stack.start_api(poll_seconds=poll)
        log_path = stack.workdir / "client.json"
        cmd = [sys.executable, "-m", "bench.hot_swap", "--client", f"{stack.api_url}/predict"]
        cmd += ["--seconds", f"{load_seconds:g}", "--out", str(log_path)]
        client = subprocess.Popen(cmd, cwd=ROOT)
        try:
            time.sleep(3.0)  # steady state before the first swap
            swaps: list[tuple[float, str]] = []
            models = list(results.values())
            for i in range(n_swaps):
                result = models[i % len(models)]
                version = publish(stack.registry, result, f"bench hot swap {i + 1}")
                swaps.append((time.time(), version))
                time.sleep(gap)
            client.wait(load_seconds + 30)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        log = json.loads(log_path.read_text())
    rows = analyse(log, swaps)
    failed = sum(1 for r in log if r[1] != 200)
    delays = [r["delay_s"] for r in rows if r["delay_s"] is not None]
    worst = max(delays) if len(delays) == len(rows) else float("inf")
    limit = poll + SETTLE_SECONDS
    elapsed = time.monotonic() - started
    targets = [
        Target(
            "hot swap: new champion served within one poll interval + 2 s",
            f"worst {worst:.2f} s over {n_swaps} swaps (poll {poll:g} s → limit {limit:g} s)",
            worst <= limit,
        ),
        Target(
            "hot swap: zero failed requests under load during the swaps",
            f"{failed} failed of {len(log):,}",
            failed == 0,
        ),
    ]
    body = "\n\n".join(
        [
            "## Hot swap (`.venv/bin/python -m bench.hot_swap`)",
            f"`moviescore serve` with MODEL_POLL_SECONDS={poll:g}, SeaweedFS on loopback; "
            f"{CONCURRENCY} concurrent POST /predict from an async httpx client in its own "
            f"process for {load_seconds:g} s; {n_swaps} swaps, {gap:g} s apart, each a new "
            "version published with `Registry.publish` then `Registry.set_champion` "
            "(alternating a trained XGBoost and LightGBM). Delay = first answer carrying the "
            "new `model_version` − return of `set_champion`.",
            table(
                ["swap", "version", "delay s", "requests in window", "failed"],
                [
                    [
                        i + 1,
                        f"`{r['version']}`",
                        "never" if r["delay_s"] is None else f"{r['delay_s']:.2f}",
                        r["requests"],
                        r["failed"],
                    ]
                    for i, r in enumerate(rows)
                ],
            ),
            f"All requests: {len(log):,}, failed {failed}; "
            f"mean delay {sum(delays) / max(len(delays), 1):.2f} s (expected ≈ poll/2 + load "
            "time of the model).",
            f"Run: {note}; took {elapsed:.0f} s.",
        ]
    )
    write_section("hot_swap", body)
    save_results("hot_swap", targets, {"swaps": rows, "requests": len(log), "failed": failed})
    for t in targets:
        print(f"{'met ' if t.met else 'MISS'} {t.target}: {t.measured}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=5)
    parser.add_argument("--poll", type=float, default=1.0, help="MODEL_POLL_SECONDS of the API")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(args.client, args.seconds, args.out))
        return
    run(args.swaps, args.poll)


if __name__ == "__main__":
    main()
