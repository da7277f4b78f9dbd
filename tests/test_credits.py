"""Credits (directors, writers, lead cast): collected from TMDB, unknown where a source lacks
them, kept through validation and partitions, and target-encoded out of fold when switched on."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from moviescore.config import Settings
from moviescore.ingest.partitions import read_partition, write_partition
from moviescore.ingest.raw_movie import CREDIT_FIELDS
from moviescore.ingest.snapshot import read_snapshot
from moviescore.ingest.tmdb import TMDBClient
from moviescore.ingest.tmdb_details import TOP_CREDITS, credit_names, tmdb_detail_to_raw
from moviescore.ingest.validate import validate_raw
from moviescore.training.features import MovieFeatures, with_credits
from tests.helpers.tmdb_fake import FakeTMDB, make_movies

TMDB_5000 = Path(__file__).parent / "fixtures" / "snapshots" / "tmdb5000_small.csv"
CREDITS = {
    "cast": [
        {"name": "Third", "order": 2},
        {"name": "Lead", "order": 0},
        {"name": "Fourth", "order": 3},
        {"name": "Second", "order": 1},
    ],
    "crew": [
        {"name": "Ann", "job": "Director", "department": "Directing"},
        {"name": "Ann", "job": "Writer", "department": "Writing"},
        {"name": "Bo", "job": "Novel", "department": "Writing"},
        {"name": "Ann", "job": "Director", "department": "Directing"},  # listed twice
        {"name": "Cy", "job": "Director of Photography", "department": "Camera"},
    ],
}


def test_credit_names_keep_the_few_that_matter() -> None:
    assert credit_names(CREDITS, "cast") == ["Lead", "Second", "Third"]
    assert len(credit_names(CREDITS, "cast")) == TOP_CREDITS
    assert credit_names(CREDITS, "directors") == ["Ann"]  # no repeats, not the camera director
    assert credit_names(CREDITS, "writers") == ["Ann", "Bo"]
    assert credit_names({"cast": [], "crew": []}, "directors") == []  # known: nobody
    assert credit_names(None, "cast") is None  # unknown


def test_detail_with_credits_maps_names_and_without_them_is_unknown() -> None:
    raw = tmdb_detail_to_raw({"id": 1, "credits": CREDITS})
    assert raw["directors"] == ["Ann"] and raw["cast"] == ["Lead", "Second", "Third"]
    bare = tmdb_detail_to_raw({"id": 2})
    assert all(bare[f] is None for f in CREDIT_FIELDS)  # never [] ("nobody")
    flat = tmdb_detail_to_raw({"id": 3, "directors": ["Dee"]})  # already flattened
    assert flat["directors"] == ["Dee"] and flat["cast"] is None


def test_malformed_credits_are_kept_for_rejection_not_dropped() -> None:
    odd = {"id": 4, "title": "x", "genres": [], "release_date": "2020-01-01"}
    frame = pd.DataFrame([tmdb_detail_to_raw(odd | {"credits": {"crew": "oops"}})])
    assert frame["directors"].iloc[0] == "oops"
    report = validate_raw(frame, max_rejected_share=1.0)
    assert report.valid.empty and len(report.rejected) == 1
    assert "directors" in report.rejected["reason"].iloc[0]


def test_tmdb_collection_asks_for_credits_and_keeps_them(settings: Settings) -> None:
    start = date(2024, 1, 1)
    with FakeTMDB(make_movies(6, start, 2), api_key="k") as fake:
        configured = fake.settings_for(settings, tmdb_api_key=SecretStr("k"), tmdb_max_retries=1)
        with TMDBClient(configured, backoff_base=0.01, progress=False) as client:
            details = client.collect(start, start + timedelta(days=1)).details
    raws = [tmdb_detail_to_raw(d) for d in details]
    assert all(r["directors"] and r["directors"][0].startswith("Director") for r in raws)
    assert all(len(r["cast"] or []) == TOP_CREDITS for r in raws)
    assert all(r["writers"] == ["A Writer"] for r in raws)


def test_unknown_credits_survive_validation_and_partitions(settings: Settings) -> None:
    movies = read_snapshot(TMDB_5000)  # the TMDB 5000 layout has no credits: unknown
    valid = validate_raw(movies, max_rejected_share=1.0).valid
    assert all(v is None for f in CREDIT_FIELDS for v in valid[f])
    valid.loc[valid.index[0], "directors"] = ["Ann"]
    valid.loc[valid.index[1], "directors"] = []
    write_partition(valid, "2024-01-01", settings)
    back = read_partition("2024-01-01", settings)
    assert back["directors"].iloc[0] == ["Ann"] and back["directors"].iloc[1] == []
    assert all(v is None for v in back["directors"].iloc[2:])


def _movies(n: int, with_credits: bool) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    directors = [f"d{i % 4}" for i in range(n)]
    y = np.array([4.0 + 1.0 * int(d[1:]) for d in directors]) + rng.normal(0, 0.1, n)
    df = pd.DataFrame(
        {
            "title": [f"t{i}" for i in range(n)],
            "release_date": ["2010-01-01"] * n,
            "genres": [["Drama"]] * n,
            "keywords": [["k"]] * n,
            "production_companies": [["s"]] * n,
            "directors": [[d] for d in directors] if with_credits else [None] * n,
            "writers": [None] * n,
            "cast": [[]] * n,  # known: no cast listed
        }
    )
    return df, y


def _te(features: MovieFeatures, out: np.ndarray, field: str) -> np.ndarray:
    names = list(features.get_feature_names_out())
    return out[:, names.index(f"te_{field}_mean")]


def test_credits_are_target_encoded_out_of_fold_when_switched_on() -> None:
    df, y = _movies(200, with_credits=True)
    assert "te_directors_mean" not in MovieFeatures().fit(df, y).get_feature_names_out()
    features = with_credits(MovieFeatures(unknown_keywords_share=0.0))
    out = features.fit_transform(df, y)
    te = _te(features, out, "directors")
    assert np.corrcoef(te, y)[0, 1] > 0.9  # the director carries the signal
    # out of fold: a row's encoding is not the in-sample one (its own label left out)
    assert not np.allclose(te, _te(features, features.transform(df), "directors"))
    assert np.all(_te(features, out, "cast") == 0.0)  # [] = nobody: 0, not unknown
    assert np.all(np.isnan(_te(features, out, "writers")))  # None = unknown: NaN


def test_a_source_without_credits_gives_nan_never_a_crash() -> None:
    df, y = _movies(60, with_credits=True)
    features = with_credits()
    features.fit_transform(df, y)
    unseen, _ = _movies(3, with_credits=False)
    row = features.transform(unseen)
    assert all(math.isnan(v) for v in _te(features, row, "directors"))
    masked = with_credits(MovieFeatures(unknown_keywords_share=0.5))
    out = masked.fit_transform(df, y)
    blank_kw, blank_dir = (
        np.isnan(_te(masked, out, "keywords")),
        np.isnan(_te(masked, out, "directors")),
    )
    assert 0 < blank_kw.sum() < len(df) and np.array_equal(blank_kw, blank_dir)


@pytest.mark.parametrize("field", CREDIT_FIELDS)
def test_with_credits_adds_each_field_once(field: str) -> None:
    twice = with_credits(with_credits())
    assert twice.target_encoded.count(field) == 1
