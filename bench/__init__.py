"""Benchmarks of the DESIGN targets; each writes its own section of docs/BENCHMARKS.md.

One command each (from the repository root, loopback only, bounded in time):

    .venv/bin/python -m bench.quality        # rolling backtest RMSE vs the seed recipe and the mean
    .venv/bin/python -m bench.serving        # wrk: /predict, /predict/batch vs bare FastAPI
    .venv/bin/python -m bench.pipeline_cost  # wall time and peak RSS per step, 1k..64k movies
    .venv/bin/python -m bench.hot_swap       # champion swaps under load: delay and failed requests

Every benchmark calls the library (never a copy of its logic), so it measures what ships. Results
land in docs/BENCHMARKS.md between `<!-- bench:NAME -->` markers, as JSON in docs/bench/NAME.json
(which the summary table at the top is rebuilt from) and as PNG plots in docs/bench/.
Shared pieces: `report` (sections, summary), `stack` (SeaweedFS + champion + API subprocess, the
forward split), `rss` (peak memory sampler), `bare_app` (the FastAPI yardstick), `profile`
(py-spy samples grouped into components).
"""
