"""Sources: the three snapshot formats, the OMDb sample and live TMDB (against the local fake)."""

from __future__ import annotations

import json
import logging
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import SecretStr

from moviescore.config import Settings
from moviescore.ingest.partitions import read_partition, write_partition
from moviescore.ingest.raw_movie import LIST_FIELDS, RAW_COLUMNS
from moviescore.ingest.sources import (
    COLLECT_REPORT,
    IncompleteCollectError,
    SnapshotFormatError,
    default_source,
    load_source,
    read_snapshot,
    tmdb_detail_to_raw,
)
from moviescore.ingest.tmdb_details import OPTIONAL_LIST_FIELDS, PARSE_ERRORS
from moviescore.ingest.validate import validate_raw
from tests.helpers.tmdb_fake import FakeTMDB, Fault, make_movies

FIXTURES = Path(__file__).parent / "fixtures" / "snapshots"
TMDB_5000 = FIXTURES / "tmdb5000_small.csv"
DETAILS_CSV = FIXTURES / "details_small.csv"
DETAILS_JSONL = FIXTURES / "details_small.jsonl"


def by_id(df: pd.DataFrame, movie_id: int) -> dict[Any, Any]:
    rows = df[df["id"] == movie_id]
    assert len(rows) == 1, f"expected one row with id {movie_id}, got {len(rows)}"
    return rows.iloc[0].to_dict()


def assert_raw_shape(df: pd.DataFrame, malformed: tuple[int, ...] = ()) -> None:
    """Exactly RAW_COLUMNS; list fields are lists except in rows known to hold a malformed cell
    (and None, "unknown", where the source may not carry the field)."""
    assert list(df.columns) == list(RAW_COLUMNS)
    clean = df[~df["id"].isin(malformed)]
    for name in LIST_FIELDS:
        unknown_ok = name in OPTIONAL_LIST_FIELDS
        assert all(isinstance(v, list) or (unknown_ok and v is None) for v in clean[name]), name


# --- TMDB 5000 CSV layout ---


def test_tmdb5000_csv_maps_json_cells_to_names_and_codes() -> None:
    df = read_snapshot(TMDB_5000)
    assert_raw_shape(df, malformed=(102,))
    assert df["id"].tolist() == [101, 102, 103, 104, 105, 106]
    first = by_id(df, 101)
    assert first["genres"] == ["Drama"]
    assert first["keywords"] == ["family"]
    assert first["production_companies"] == ["Studio A"]
    assert first["production_countries"] == ["US"]
    assert first["spoken_languages"] == ["en"]
    assert (first["budget"], first["runtime"], first["vote_average"]) == (1e6, 95.0, 6.5)
    assert first["vote_count"] == 120
    assert first["release_date"] == "2010-05-01"
    assert first["tagline"] is None and first["homepage"] is None
    assert first["source"] == "tmdb_snapshot"
    two_lines = by_id(df, 106)
    assert two_lines["overview"] == "Line one,\nline two."  # quoted newline inside a cell
    assert two_lines["spoken_languages"] == ["fr"]
    assert two_lines["genres"] == ["Comedy", "Romance"]
    empty = by_id(df, 105)
    assert empty["genres"] == [] and pd.isna(empty["runtime"]) and empty["overview"] is None


def test_tmdb5000_csv_keeps_malformed_cells_and_rows_for_rejection() -> None:
    df = read_snapshot(TMDB_5000)
    broken = by_id(df, 102)
    assert broken["genres"] == '[{"id": 18, "name": "Drama"'  # raw text kept, not dropped
    assert broken["budget"] == "lots"
    errors = df.attrs[PARSE_ERRORS]
    assert set(errors) == {2, 3}  # positions of ids 103 (too many fields) and 104 (too few)
    assert "21 fields where the header has 20" in errors[2] and "surprise" in errors[2]
    assert "12 fields where the header has 20" in errors[3]

    report = validate_raw(df, max_rejected_share=1.0)
    assert sorted(report.valid["id"]) == [101, 105, 106]
    reasons = dict(zip(report.rejected["id"], report.rejected["reason"], strict=True))
    assert set(reasons) == {102, 103, 104}
    assert "genres: must be a list of text" in reasons[102]
    assert "budget: must be a number >= 0 (got 'lots')" in reasons[102]
    assert reasons[103].startswith("unreadable row: line 4: 21 fields")
    assert "unreadable row: line 5: 12 fields" in reasons[104]
    assert "title: missing" in reasons[104]


def test_zipped_csv_reads_like_the_plain_file(tmp_path: Path) -> None:
    archive = tmp_path / "movies.csv.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(TMDB_5000, arcname="movies.csv")
    zipped, plain = read_snapshot(archive), read_snapshot(TMDB_5000)
    pd.testing.assert_frame_equal(zipped, plain)
    assert zipped.attrs[PARSE_ERRORS] == plain.attrs[PARSE_ERRORS]


def test_windows_line_endings_read_the_same(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(TMDB_5000.read_bytes().replace(b"\n", b"\r\n"))
    df, plain = read_snapshot(crlf), read_snapshot(TMDB_5000)
    assert df["id"].tolist() == plain["id"].tolist()
    assert by_id(df, 101)["genres"] == ["Drama"]
    assert by_id(df, 106)["overview"] == "Line one,\r\nline two."  # inside quotes: kept as is


# --- flattened details CSV (Python reprs, BOM, no keywords column) ---


def test_details_csv_parses_python_reprs_without_running_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    df = read_snapshot(DETAILS_CSV)
    assert_raw_shape(df, malformed=(202,))
    assert df["id"].tolist() == [201, 202, 203]  # the BOM did not eat the first column name
    cartoon = by_id(df, 201)
    assert cartoon["genres"] == ["Animation", "Comedy"]
    assert cartoon["production_companies"] == ["Walt Disney Animation Studios"]
    assert cartoon["spoken_languages"] == ["en"]
    assert cartoon["overview"] == "It's a cartoon — with ünïcode."
    assert all(v is None for v in df["keywords"])  # no keywords column: unknown, not "none"
    sneaky = by_id(df, 202)
    assert sneaky["genres"] == "__import__('pathlib').Path('PWNED').touch()"
    assert not (tmp_path / "PWNED").exists()

    report = validate_raw(df, max_rejected_share=1.0)
    reasons = dict(zip(report.rejected["id"], report.rejected["reason"], strict=True))
    assert report.valid["id"].tolist() == [201]
    assert "genres: must be a list of text" in reasons[202]
    assert "vote_average: must be a number in [0, 10]" in reasons[203]


# --- JSON Lines of /movie/{id} responses ---


def test_jsonl_maps_details_and_keeps_bad_lines_as_rejectable_rows() -> None:
    df = read_snapshot(DETAILS_JSONL)
    assert_raw_shape(df, malformed=(303,))
    assert len(df) == 5  # the blank line is not a movie; the two broken lines are kept
    movie = by_id(df, 301)
    assert movie["keywords"] == ["witch", "flying"]  # {"keywords": {"keywords": [...]}}
    assert movie["spoken_languages"] == ["ja"]
    assert movie["production_countries"] == ["JP"]
    assert movie["homepage"] is None  # TMDB's "" means none
    assert by_id(df, 304)["keywords"] is None  # no keywords append: unknown, not "none"
    errors = df.attrs[PARSE_ERRORS]
    assert errors[1].startswith("line 3: invalid JSON")
    assert errors[2].startswith("line 4: not a JSON object")

    report = validate_raw(df, max_rejected_share=1.0)
    assert sorted(report.valid["id"]) == [301, 304]
    assert len(report.rejected) == 3
    joined = " | ".join(report.rejected["reason"])
    assert "line 3: invalid JSON" in joined and "line 4: not a JSON object" in joined
    bad_shape = report.rejected[report.rejected["id"] == 303]["reason"].iloc[0]
    assert "genres: must be a list of text (got 'Drama')" in bad_shape
    assert "release_date: missing" in bad_shape


def test_tmdb_detail_to_raw_maps_nested_objects() -> None:
    detail = json.loads(DETAILS_JSONL.read_text(encoding="utf-8").splitlines()[0])
    raw = tmdb_detail_to_raw(detail)
    assert raw["source"] == "tmdb"
    assert raw["genres"] == ["Animation", "Fantasy"]
    assert raw["production_companies"] == ["Studio Ghibli"]
    assert (raw["runtime"], raw["budget"], raw["vote_count"]) == (121.0, 0.0, 5120)
    assert set(raw) == set(RAW_COLUMNS)
    # keywords without the append nesting, and an item without its key: kept for rejection
    assert tmdb_detail_to_raw({"keywords": [{"name": "x"}]})["keywords"] == ["x"]
    odd = [{"id": 1}]
    assert tmdb_detail_to_raw({"genres": odd})["genres"] == odd


# --- unknown formats ---


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("other.csv", b"name,score\nx,1\n"),
        ("empty.csv", b""),
        ("binary.bin", bytes(range(256))),
    ],
)
def test_unknown_format_names_the_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SnapshotFormatError, match=name):
        read_snapshot(path)


def test_zip_with_two_files_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", TMDB_5000.read_text())
        zf.writestr("b.csv", TMDB_5000.read_text())
    with pytest.raises(SnapshotFormatError, match="exactly one file"):
        read_snapshot(archive)


# --- the shared real data ---


@pytest.mark.slow
def test_shared_tmdb_5000_zip(tmdb_5000_zip: Path) -> None:
    df = read_snapshot(tmdb_5000_zip)
    assert_raw_shape(df)
    assert len(df) == 4244
    assert df.attrs[PARSE_ERRORS] == {}
    assert df["id"].dtype == "int64" and df["budget"].dtype == "float64"
    avatar = by_id(df, 19995)
    assert avatar["title"] == "Avatar" and "Science Fiction" in avatar["genres"]
    assert avatar["production_countries"] == ["US", "GB"]


def test_shared_details_csv(tmdb_details_csv: Path) -> None:
    df = read_snapshot(tmdb_details_csv)
    assert_raw_shape(df)
    assert len(df) == 100
    assert df.attrs[PARSE_ERRORS] == {}
    assert all(v is None for v in df["keywords"])
    assert sum(len(g) > 0 for g in df["genres"]) >= 95
    assert validate_raw(df).rejected.empty


def test_unknown_keywords_survive_validation_and_the_parquet_partition(
    tmdb_details_csv: Path, settings: Settings
) -> None:
    """None (unknown) must not become [] (none) on the way to training; other lists stay strict."""
    valid = validate_raw(read_snapshot(tmdb_details_csv)).valid
    valid.loc[valid.index[0], "keywords"] = ["known"]  # [] / list / None side by side
    valid.loc[valid.index[1], "keywords"] = []
    write_partition(valid, "2026-01-28", settings)
    back = read_partition("2026-01-28", settings)
    assert back["keywords"].iloc[0] == ["known"] and back["keywords"].iloc[1] == []
    assert all(v is None for v in back["keywords"].iloc[2:])
    no_genres = valid.head(3).copy()
    no_genres["genres"] = None
    assert len(validate_raw(no_genres, max_rejected_share=1.0).rejected) == 3


# --- the offline OMDb sample ---


def test_sample_maps_omdb_to_the_raw_schema(settings: Settings) -> None:
    pytest.importorskip("bokeh_sampledata")
    df = load_source("sample", date=date(2024, 1, 1), snapshot=None, settings=settings)
    assert_raw_shape(df)
    assert len(df) == 12569
    assert set(df["source"]) == {"omdb_sample"}  # never passed off as TMDB
    assert df["id"].is_unique and df["id"].min() > 1_000_000_000
    assert df["overview"].isna().all()
    birth = by_id(df, 1_000_004_972)  # tt0004972
    assert birth["title"] == "The Birth of a Nation"
    assert (birth["vote_average"], birth["vote_count"]) == (6.9, 13793)
    assert birth["release_date"] == "1915-03-03"
    assert birth["genres"] == ["Drama", "History", "Romance"]
    assert birth["production_countries"] == ["US"]
    assert by_id(df, 1_000_006_206)["original_language"] == "fr"  # "French"
    assert (df["original_language"] == "en").mean() > 0.7
    assert df["genres"].map(lambda g: "Sci-Fi" in g).sum() == 0  # TMDB's name is used
    report = validate_raw(df)
    reasons = set(report.rejected["reason"])
    assert reasons == {"release_date: missing"}, reasons


# --- load_source dispatch ---


def test_load_source_snapshot_and_errors(settings: Settings) -> None:
    df = load_source("snapshot", date=date(2024, 1, 1), snapshot=TMDB_5000, settings=settings)
    assert len(df) == 6
    with pytest.raises(ValueError, match="--snapshot"):
        load_source("snapshot", date=date(2024, 1, 1), snapshot=None, settings=settings)
    with pytest.raises(ValueError, match="unknown source 'imdb'"):
        load_source("imdb", date=date(2024, 1, 1), snapshot=None, settings=settings)


def test_default_source_follows_the_credential(settings: Settings) -> None:
    assert default_source(settings) == "sample"
    with_key = settings.model_copy(update={"tmdb_api_key": SecretStr("k")})
    assert default_source(with_key) == "tmdb"
    with_token = settings.model_copy(update={"tmdb_read_access_token": SecretStr("t")})
    assert default_source(with_token) == "tmdb"


# --- live TMDB, against the local fake server ---

KEY = "sources-test-key"


def tmdb_settings(settings: Settings, fake: FakeTMDB) -> Settings:
    # tmdb_max_retries=0: a failure is final at once, no backoff sleeps in tests
    return fake.settings_for(settings, tmdb_max_retries=0, tmdb_days_back=3, tmdb_days_ahead=2)


def test_tmdb_source_collects_the_date_window(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # 60 movies over 2024-01-01 .. 2024-01-10; ds 2024-01-05 covers 01-02 .. 01-07
    movies = make_movies(60, date(2024, 1, 1), days=10)
    inside = {m["id"] for m in movies if "2024-01-02" <= m["release_date"] <= "2024-01-07"}
    failing = min(inside)
    with FakeTMDB(movies, api_key=KEY) as fake:
        fake.inject(f"/movie/{failing}", Fault.error(500), repeat=True)
        with caplog.at_level(logging.INFO):
            df = load_source(
                "tmdb", date=date(2024, 1, 5), snapshot=None, settings=tmdb_settings(settings, fake)
            )
    assert_raw_shape(df)
    assert set(df["id"]) == inside - {failing}  # nothing outside the window, the failure reported
    assert set(df["source"]) == {"tmdb"}
    assert all(k == ["fake"] for k in df["keywords"])  # keywords were appended and mapped
    assert df["release_date"].between("2024-01-02", "2024-01-07").all()
    report = df.attrs[COLLECT_REPORT]
    assert set(report["failed_ids"]) == {str(failing)}  # JSON-shaped: ids as str keys
    assert f"/movie/{failing}" in report["failed_ids"][str(failing)]
    assert "HTTP 500" in report["failed_ids"][str(failing)]
    assert report["details_fetched"] == len(df) and "details" not in report
    assert report["complete"] is False
    lost = [r for r in caplog.records if f"TMDB movie {failing} not collected" in r.getMessage()]
    # said once, at ERROR, by the client that saw it fail
    assert [(r.name, r.levelno) for r in lost] == [("moviescore.ingest.tmdb", logging.ERROR)]
    assert validate_raw(df).rejected.empty


def test_tmdb_source_refuses_a_batch_with_failed_discover_pages(settings: Settings) -> None:
    movies = make_movies(60, date(2024, 1, 1), days=10)  # the window holds 36: two pages
    with FakeTMDB(movies, api_key=KEY) as fake:
        fake.inject("/discover/movie", Fault.error(503), where={"page": "2"}, repeat=True)
        with pytest.raises(IncompleteCollectError, match="discover page"):
            load_source(
                "tmdb", date=date(2024, 1, 5), snapshot=None, settings=tmdb_settings(settings, fake)
            )
