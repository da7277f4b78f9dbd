"""The feature path on edge cases: what serving will throw at it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from textblob import TextBlob

from moviescore.ingest.raw_movie import POST_RELEASE_FIELDS
from moviescore.training.features import MovieFeatures, make_pipeline, sentiment


def movie(i: int, **over: object) -> dict:
    rec = {
        "id": i,
        "title": f"Movie {i}",
        "original_title": f"Movie {i}",
        "overview": "A wonderful, happy story about a brave dog." if i % 2 else "A grim war.",
        "tagline": "Run." if i % 3 else None,
        "release_date": f"{2000 + i % 10}-0{1 + i % 9}-15",
        "runtime": 90.0 + i,
        "budget": float(i * 1_000_000),
        "original_language": "en" if i % 4 else "fr",
        "genres": ["Drama"] if i % 2 else ["Comedy", "Action"],
        "keywords": [f"kw{i % 5}", "dog"],
        "production_companies": [f"studio{i % 3}"],
        "production_countries": ["US"] if i % 2 else ["FR"],
        "spoken_languages": ["en"],
        "homepage": "http://x.example" if i % 5 == 0 else None,
        "status": "Released",
        "vote_average": 5.0 + (i % 4),
        "vote_count": 100 + i,
        "popularity": 10.0 + i,
        "revenue": 1e6 * i,
    }
    rec.update(over)
    return rec


@pytest.fixture
def train_df() -> pd.DataFrame:
    return pd.DataFrame([movie(i) for i in range(40)])


@pytest.fixture
def fitted(train_df: pd.DataFrame) -> MovieFeatures:
    return MovieFeatures(min_language_count=5).fit(train_df, train_df["vote_average"])


def column(feats: MovieFeatures, out: np.ndarray, name: str) -> np.ndarray:
    return out[:, list(feats.get_feature_names_out()).index(name)]


def test_sentiment_matches_textblob_and_handles_missing() -> None:
    text = "A wonderful, happy story about a brave dog."
    blob = TextBlob(text).sentiment
    assert sentiment(text) == pytest.approx((blob.polarity, blob.subjectivity))
    assert sentiment(text)[0] > 0
    for empty in ("", "   ", None, float("nan")):
        assert sentiment(empty) == (0.0, 0.0)
    polarity, subjectivity = sentiment("Un film magnifique sur la guerre et l'amour.")
    assert -1 <= polarity <= 1 and 0 <= subjectivity <= 1


def test_list_and_dataframe_input_give_identical_output(
    train_df: pd.DataFrame, fitted: MovieFeatures
) -> None:
    from_df = fitted.transform(train_df)
    from_dicts = fitted.transform(train_df.to_dict("records"))
    assert from_df.dtype == np.float32 and from_df.shape == (
        40,
        len(fitted.get_feature_names_out()),
    )
    np.testing.assert_array_equal(from_df, from_dicts)
    np.testing.assert_array_equal(from_df[3:4], fitted.transform([train_df.iloc[3].to_dict()]))


def test_post_release_fields_never_change_the_output(fitted: MovieFeatures) -> None:
    rows = [movie(i) for i in range(10)]
    changed = [
        movie(i, vote_average=0.0, vote_count=1, popularity=9e9, revenue=7e12) for i in range(10)
    ]
    stripped = [
        {
            k: v
            for k, v in r.items()
            if k not in ("vote_average", "vote_count", "popularity", "revenue")
        }
        for r in rows
    ]
    np.testing.assert_array_equal(fitted.transform(rows), fitted.transform(changed))
    np.testing.assert_array_equal(fitted.transform(rows), fitted.transform(stripped))
    names = " ".join(fitted.get_feature_names_out())
    for post in ("vote", "popularity", "revenue"):
        assert post not in names


@pytest.mark.parametrize("replacement", [-123.5, 10**12, "not a number", ["a", "list"], None])
def test_schema_post_release_fields_are_never_read(replacement: object) -> None:
    """Whatever schema.POST_RELEASE_FIELDS holds, in fit or transform, the matrix is the same."""
    rows = [movie(i) for i in range(12)]
    labels = [r["vote_average"] for r in rows]
    assert POST_RELEASE_FIELDS and all(f in rows[0] for f in POST_RELEASE_FIELDS)
    changed = [{**r, **dict.fromkeys(POST_RELEASE_FIELDS, replacement)} for r in rows]
    assert all(changed[0][f] != rows[0][f] for f in POST_RELEASE_FIELDS)
    on_rows = MovieFeatures(min_language_count=2).fit(rows, labels)
    on_changed = MovieFeatures(min_language_count=2).fit(changed, labels)
    expected = on_rows.transform(rows)
    assert expected.shape[0] == len(rows) and np.isfinite(expected).any()
    for feats in (on_rows, on_changed):
        np.testing.assert_array_equal(feats.transform(changed), expected)
        np.testing.assert_array_equal(feats.transform(rows), expected)


def test_overview_sentiment_is_a_feature(fitted: MovieFeatures) -> None:
    rows = [movie(1), movie(2), movie(3, overview=None)]
    out = fitted.transform(rows)
    expected = [sentiment(r["overview"]) for r in rows]
    np.testing.assert_allclose(column(fitted, out, "overview_polarity"), [e[0] for e in expected])
    np.testing.assert_allclose(
        column(fitted, out, "overview_subjectivity"), [e[1] for e in expected], rtol=1e-6
    )
    assert (
        column(fitted, out, "overview_polarity")[0]
        > 0
        > column(fitted, out, "overview_polarity")[1]
    )


def test_unseen_genre_and_language(fitted: MovieFeatures) -> None:
    out = fitted.transform([movie(1, genres=["Telenovela"], original_language="xx")])
    assert column(fitted, out, "lang_other")[0] == 1.0
    assert column(fitted, out, "lang_en")[0] == 0.0
    genre_cols = [i for i, n in enumerate(fitted.get_feature_names_out()) if n.startswith("genre_")]
    assert out[0, genre_cols].sum() == 0.0
    assert column(fitted, out, "n_genres")[0] == 1.0


def test_rare_language_grouped_to_other(train_df: pd.DataFrame) -> None:
    feats = MovieFeatures(min_language_count=15).fit(train_df)  # fr appears 10 times
    assert feats.languages_ == ["en", "other"]
    out = feats.transform([movie(0)])  # a French film
    assert column(feats, out, "lang_other")[0] == 1.0


@pytest.mark.parametrize(
    "missing",
    [
        {"overview": None, "tagline": None, "title": None},
        {"overview": "", "budget": 0, "runtime": 0},
        {"overview": float("nan"), "budget": float("nan"), "runtime": None, "release_date": None},
        {"genres": None, "keywords": float("nan"), "production_companies": []},
        {"release_date": "", "original_language": None, "homepage": float("nan")},
    ],
)
def test_missing_values_are_handled(fitted: MovieFeatures, missing: dict) -> None:
    out = fitted.transform([movie(1, **missing)])
    assert out.shape == (1, len(fitted.get_feature_names_out()))
    if "budget" in missing:
        assert math.isnan(column(fitted, out, "log_budget")[0])  # unknown, not "free"
    if missing.get("release_date") is None and "release_date" in missing:
        assert math.isnan(column(fitted, out, "release_year")[0])


def test_absent_keys_and_minimal_record(fitted: MovieFeatures) -> None:
    out = fitted.transform([{"title": "Only a title"}, {}])
    assert out.shape[0] == 2
    assert column(fitted, out, "lang_other").tolist() == [1.0, 1.0]
    assert column(fitted, out, "overview_words").tolist() == [0.0, 0.0]
    assert np.isnan(column(fitted, out, "runtime")).all()


def test_date_parts_and_numbers(fitted: MovieFeatures) -> None:
    out = fitted.transform([movie(1, release_date="2013-07-04", runtime="120", budget=1e6)])
    assert column(fitted, out, "release_year")[0] == 2013
    assert column(fitted, out, "release_month")[0] == 7
    assert column(fitted, out, "release_weekday")[0] == 3  # a Thursday
    assert column(fitted, out, "runtime")[0] == 120
    assert column(fitted, out, "log_budget")[0] == pytest.approx(math.log1p(1e6))


@pytest.mark.parametrize(
    ("field", "value"), [("runtime", "long"), ("release_date", "July 2013"), ("budget", "lots")]
)
def test_bad_values_name_the_field(fitted: MovieFeatures, field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        fitted.transform([movie(1, **{field: value})])


def test_target_encoding_is_out_of_fold_on_training_rows(train_df: pd.DataFrame) -> None:
    y = train_df["vote_average"].to_numpy()
    feats = MovieFeatures(min_language_count=5, unknown_keywords_share=0.0, text_alpha=10.0)
    oof = feats.fit_transform(train_df, y)
    in_sample = feats.transform(train_df)
    names = list(feats.get_feature_names_out())
    te = [i for i, n in enumerate(names) if n.startswith("te_")]
    text = names.index("text_score")
    base = [i for i in range(oof.shape[1]) if i not in te and i != text]
    np.testing.assert_array_equal(oof[:, base], in_sample[:, base])
    assert not np.array_equal(oof[:, te], in_sample[:, te])
    assert not np.array_equal(oof[:, text], in_sample[:, text])
    # unknown companies, keywords and genres encode as 0 (the training mean), never crash
    unseen = feats.transform(
        [movie(1, production_companies=["nobody"], keywords=["zzz"], genres=["Western"])]
    )
    assert unseen[0, te].tolist() == [0.0] * len(te)


def test_without_labels_encodings_are_neutral(train_df: pd.DataFrame) -> None:
    feats = MovieFeatures().fit(train_df)
    out = feats.transform(train_df)
    te = [i for i, n in enumerate(feats.get_feature_names_out()) if n.startswith("te_")]
    assert te and not feats.encodings_
    encoded = out[:, te]  # 0 = the training mean; NaN only where the field itself is unknown
    assert ((encoded == 0) | np.isnan(encoded)).all() and (encoded == 0).any()


def test_single_dict_is_rejected_clearly(fitted: MovieFeatures) -> None:
    with pytest.raises(TypeError, match="list of records"):
        fitted.transform(movie(1))


def test_make_pipeline_wraps_features_and_model() -> None:
    from sklearn.linear_model import Ridge

    pipe = make_pipeline(Ridge())
    assert [name for name, _ in pipe.steps] == ["features", "model"]
    assert isinstance(pipe.named_steps["features"], MovieFeatures)


def test_unknown_keywords_are_missing_not_empty(train_df: pd.DataFrame) -> None:
    """None = the source has no keywords (details CSV); [] = a film known to have none."""
    feats = MovieFeatures(min_language_count=5).fit(train_df, train_df["vote_average"])
    out = feats.transform([movie(1, keywords=None), movie(1, keywords=[]), movie(1)])
    kw = [n for n in feats.get_feature_names_out() if n.startswith("te_keywords")]
    for name in ["n_keywords", *kw]:
        values = column(feats, out, name)
        assert math.isnan(values[0]) and values[1] == 0.0 and not math.isnan(values[2]), name
    assert column(feats, out, "n_keywords")[2] == 2.0
    # the other columns do not depend on whether keywords are known (the text score reads them)
    names = feats.get_feature_names_out()
    other = [i for i, n in enumerate(names) if "keywords" not in n and n != "text_score"]
    np.testing.assert_array_equal(out[0, other], out[2, other])


def test_training_rows_get_a_share_of_unknown_keywords(train_df: pd.DataFrame) -> None:
    y = train_df["vote_average"].to_numpy()
    rows = pd.concat([train_df] * 10, ignore_index=True)  # 400 rows for a stable share
    feats = MovieFeatures(min_language_count=5, unknown_keywords_share=0.3)
    oof = feats.fit_transform(rows, np.tile(y, 10))
    names = list(feats.get_feature_names_out())
    kw = [i for i, n in enumerate(names) if "keywords" in n]
    masked = np.isnan(oof[:, kw])
    assert (masked.all(axis=1) == masked.any(axis=1)).all()  # a row loses all or none of them
    assert 0.2 < masked.all(axis=1).mean() < 0.4
    others = [i for i in range(len(names)) if i not in kw and names[i] != "log_budget"]
    assert not np.isnan(oof[:, others]).any()
    # serving and evaluation never mask; a refit masks the same rows (seeded)
    assert not np.isnan(feats.transform(rows)[:, kw]).any()
    again = MovieFeatures(min_language_count=5, unknown_keywords_share=0.3)
    np.testing.assert_array_equal(
        np.isnan(again.fit_transform(rows, np.tile(y, 10))), np.isnan(oof)
    )
    with pytest.raises(ValueError, match="unknown_keywords_share"):
        MovieFeatures(unknown_keywords_share=1.5).fit_transform(rows, np.tile(y, 10))
