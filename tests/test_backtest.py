"""The rolling backtest on small synthetic data: fold construction and a report on the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from moviescore.cli import app
from moviescore.config import Settings
from moviescore.ingest.tmdb_details import records_to_frame
from moviescore.training import backtest as bt
from moviescore.training.specs import CANDIDATES

GENRES = ["Drama", "Comedy", "Action", "Horror"]


def _movies(first_year: int = 2000, last_year: int = 2013, per_year: int = 24) -> pd.DataFrame:
    """Movies whose rating depends on genre, runtime and budget, plus noise."""
    rng = np.random.default_rng(7)
    records = []
    for year in range(first_year, last_year + 1):
        for k in range(per_year):
            genre = GENRES[k % len(GENRES)]
            runtime = float(rng.uniform(80, 160))
            rating = 5.0 + 0.6 * GENRES.index(genre) + (runtime - 120) / 40 + rng.normal(0, 0.3)
            records.append(
                {
                    "id": year * 1000 + k,
                    "title": f"film {year}-{k}",
                    "overview": "a good story" if k % 3 else "a dull mess",
                    "release_date": f"{year}-{1 + k % 12:02d}-15",
                    "runtime": runtime,
                    "budget": float(rng.uniform(1e6, 1e8)),
                    "original_language": "en" if k % 5 else "fr",
                    "genres": [genre],
                    "keywords": [f"kw{k % 6}"],
                    "production_companies": [f"studio{k % 4}"],
                    "production_countries": ["US"],
                    "spoken_languages": ["en"],
                    "vote_average": float(np.clip(rating, 0, 10)),
                    "vote_count": 100,
                }
            )
    return records_to_frame(records)


def test_default_folds_roll_forward_to_the_newest_year() -> None:
    folds = bt.make_folds(2013)
    assert [f.origin for f in folds] == list(range(2003, 2012))
    assert folds[0].val_years == (2002, 2003) and folds[0].test_years == (2004, 2005)
    assert folds[-1].test_years == (2012, 2013)  # clipped at the data's newest year
    with pytest.raises(ValueError, match="later test year"):
        bt.make_folds(2013, [2013])


def test_no_test_row_at_or_before_its_cutoff_and_no_row_in_two_roles() -> None:
    movies = _movies()
    for fold in bt.make_folds(2013):
        train, val, test = bt.fold_splits(movies, fold)
        train_years, val_years = bt.release_years(train), bt.release_years(val)
        test_years = bt.release_years(test)
        assert train_years.max() <= fold.train_until < val_years.min()
        assert val_years.max() <= fold.origin < test_years.min()
        assert test_years.max() <= fold.test_until
        assert set(test_years) == set(fold.test_years)
        ids = [set(part["id"]) for part in (train, val, test)]
        assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
        # every row of the fold's years is in exactly one role
        in_range = movies[bt.release_years(movies) <= fold.test_until]
        assert sum(len(i) for i in ids) == len(in_range)


def test_report_has_every_model_on_the_same_rows_of_every_fold() -> None:
    movies = _movies()
    folds = bt.make_folds(2013, [2009, 2011])
    seen: list[int] = []
    result = bt.run_backtest(movies, folds, on_fold=lambda fold, _: seen.append(fold.origin))
    assert seen == [2009, 2011]
    expected = {*CANDIDATES, bt.SEED, bt.MEAN, bt.SHIPPED, bt.OFFSET}
    for origin, rows in result.predictions.groupby("origin"):
        ids_by_model = rows.groupby("model")["id"].apply(lambda ids: tuple(sorted(ids)))
        assert set(ids_by_model.index) == expected
        assert ids_by_model.nunique() == 1  # one set of rows for every model
        fold = next(f for f in folds if f.origin == origin)
        assert (rows["release_year"] > fold.origin).all()
    report = bt.summary(result)
    assert set(report["average"]) == expected
    # the shipped model of each fold is the candidate chosen on validation, refitted on train +
    # val as the pipeline ships it: close to the judged fit's predictions, not the same
    for origin, vals in result.validation.groupby("origin"):
        champion = vals["champion"].iloc[0]
        cands = vals[vals["model"].isin(CANDIDATES)]
        assert champion == cands.loc[cands["val_rmse"].idxmin(), "model"]
        preds = result.predictions[result.predictions["origin"] == origin]
        shipped = preds[preds["model"] == bt.SHIPPED]["pred"].to_numpy()
        judged = preds[preds["model"] == champion]["pred"].to_numpy()
        assert not np.array_equal(shipped, judged)
        assert np.sqrt(np.mean((shipped - judged) ** 2)) < 1.0
    # the models learn the synthetic signal; the mean cannot
    assert report["average"][bt.SHIPPED] < report["average"][bt.MEAN]
    assert report["ratio"] == pytest.approx(
        report["average"][bt.SHIPPED] / report["average"][bt.SEED]
    )
    # origin 2011 tests 2012-2013, the holdout years; 2009 tests 2010-2011 (development)
    assert report["dev_origins"] == [2009] and report["holdout_origins"] == [2011]
    years = {r["release_year"] for r in report["per_year"]}
    assert years == {2010, 2011, 2012, 2013}
    assert all(np.isfinite(r["bias"]) for r in report["per_year"])


def _snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "movies.jsonl"
    rows = _movies(2004, 2013, per_year=20).to_dict("records")
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_backtest_command_prints_and_writes_the_report(tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "report.json"
    args = [
        "backtest",
        "--snapshot",
        str(_snapshot(tmp_path)),
        "--folds",
        "2",
        "--output",
        str(out),
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "shipped / seed recipe" in result.stdout and bt.SEED in result.stdout
    report = json.loads(out.read_text())
    assert [f["origin"] for f in report["folds"]] == [2010, 2011]
    assert report["ratio"] == pytest.approx(
        report["average"]["shipped"] / report["average"][bt.SEED]
    )


def test_tune_command_writes_the_study(tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "study.json"
    args = ["tune", "--model", "random_forest", "--output", str(out), "--trials", "3"]
    args += ["--snapshot", str(_snapshot(tmp_path)), "--folds", "2"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    study = json.loads(out.read_text())
    assert study["model"] == "random_forest" and study["folds"] == [2010, 2011]
    assert len(study["trials"]) == 3  # the defaults are the first trial, so best <= defaults
    assert study["best_val_rmse"] <= study["default_val_rmse"] + 1e-12
    bad = CliRunner().invoke(app, [*args[:2], "nope", *args[3:]])
    assert bad.exit_code != 0 and "unknown model" in str(bad.exception)
