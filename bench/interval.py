"""Coverage of the 80 % prediction interval on forward folds of the shared data.

    .venv/bin/python -m bench.interval [--model xgboost]

Fold Y: the candidate is trained as the pipeline trains it (`train_candidate`: fitted on years
<= Y-1, early-stopped on Y, refitted on <= Y), its interval calibrated on year Y+1 (the releases it
did not train on, as the pipeline calibrates on its test split), and its coverage measured on
year Y+2, which neither fitting nor calibration saw. Target: 76-84 % pooled over the folds.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench.report import Target, machine_note, save_results, table, write_section
from bench.stack import forward_split
from moviescore.ingest.partitions import Splits
from moviescore.ingest.raw_movie import LABEL
from moviescore.serving.calibration import LEVEL, Interval
from moviescore.serving.scoring import Scorer
from moviescore.training.candidates import train_candidate

FOLDS = range(2003, 2012)  # Y: the last fit year; Y+2 <= 2013, the newest year of the data
TARGET = (0.76, 0.84)


def run(model: str) -> dict[str, Any]:
    labelled, _ = forward_split()
    years = labelled["release_date"].astype("datetime64[ns]").dt.year
    folds = []
    hits = total = 0
    for y in FOLDS:
        splits = Splits(labelled[years <= y - 1], labelled[years == y], labelled[years == y + 1])
        held_out = labelled[years == y + 2]
        result = train_candidate(model, splits)
        assert result.calibration is not None
        interval = Interval(result.calibration)
        truth = held_out[LABEL].to_numpy(dtype=float)
        coverage = interval.coverage(truth, Scorer(result.pipeline).ratings(held_out))
        hits += round(coverage * len(truth))
        total += len(truth)
        folds.append(
            {
                "fit_until": y,
                "calibration_year": y + 1,
                "calibration_rows": result.calibration["n"],
                "half_width": result.calibration["q"],
                "test_year": y + 2,
                "test_rows": len(truth),
                "coverage": coverage,
            }
        )
    return {"model": model, "level": LEVEL, "folds": folds, "pooled": hits / total, "n": total}


def report(out: dict[str, Any], note: str) -> list[Target]:
    pooled = out["pooled"]
    rows = [
        [
            f"<= {f['fit_until']}",
            f"{f['calibration_year']} ({f['calibration_rows']})",
            f"± {f['half_width']:.2f}",
            f"{f['test_year']} ({f['test_rows']})",
            f"{f['coverage']:.1%}",
        ]
        for f in out["folds"]
    ]
    coverages = [f["coverage"] for f in out["folds"]]
    met = TARGET[0] <= pooled <= TARGET[1]
    body = "\n\n".join(
        [
            "## Prediction interval (`.venv/bin/python -m bench.interval`)",
            f"The {out['level']:.0%} interval of `moviescore.serving.calibration` (split "
            "conformal on absolute residuals, one width for every movie) on forward folds of "
            f"the shared data, model `{out['model']}` trained by `train_candidate`: fitted on "
            "the years up to Y, calibrated on year Y+1, covering year Y+2 (rows in brackets).",
            table(["fit on", "calibrated on", "interval", "tested on", "coverage"], rows),
            f"**Pooled coverage {pooled:.1%}** over {out['n']} held-out releases (per fold "
            f"{min(coverages):.0%}–{max(coverages):.0%}; a fold of ~250 films moves by ±2.5 "
            "points by chance alone).",
            f"Run: {note}.",
        ]
    )
    write_section("interval", body)
    return [
        Target(
            "80 % interval covers 76–84 % of held-out releases (forward folds, pooled)",
            f"{pooled:.1%} over {out['n']} releases, {len(coverages)} folds "
            f"({min(coverages):.0%}–{max(coverages):.0%})",
            met,
            "" if met else "see the Prediction interval section",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="xgboost")
    args = parser.parse_args()
    note = machine_note()
    started = time.monotonic()
    out = run(args.model)
    note += f"; took {time.monotonic() - started:.0f} s"
    targets = report(out, note)
    save_results("interval", targets, out)
    for t in targets:
        print(f"{'met ' if t.met else 'MISS'} {t.target}: {t.measured}")
    print(np.round([f["coverage"] for f in out["folds"]], 3))


if __name__ == "__main__":
    main()
