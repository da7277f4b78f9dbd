"""The text score: its documents, its fast scorer against scikit-learn, its out-of-fold rows."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from moviescore.training.features import MovieFeatures
from moviescore.training.text_score import TextScore, document

GOOD = "a moving masterpiece about love and family, beautifully told"
BAD = "a zombie slasher sequel with cheap scares and more zombies"


def corpus(n: int = 60) -> tuple[list[str], np.ndarray]:
    """Half the documents speak like well-rated films, half like poorly rated ones."""
    docs = [f"{GOOD if i % 2 else BAD} number{i % 7}" for i in range(n)]
    y = np.array([7.5 if i % 2 else 4.5 for i in range(n)]) + np.linspace(-0.2, 0.2, n)
    return docs, y


def test_document_joins_text_and_list_items() -> None:
    rec = {
        "overview": "Two friends.",
        "tagline": None,
        "keywords": np.array(["new york", "friendship"]),  # parquet gives arrays
        "genres": ["Drama"],
        "production_companies": None,  # unknown adds no words, as [] does
    }
    assert document(rec) == "Two friends. new_york friendship Drama"
    assert document(rec, ("genres",)) == "Two friends. Drama"
    assert document({}) == ""


def test_fast_score_is_sklearns_prediction() -> None:
    docs, y = corpus()
    model = TextScore().fit(docs, y)
    long = " ".join([GOOD] * 40)  # longer than the cache takes: scored on every call
    new = [GOOD, BAD, "love love love zombie", "words it never saw", "", docs[3], long]
    np.testing.assert_allclose(model.score(new), model.sklearn_score(new), rtol=0, atol=1e-12)
    # again, now from the cache: the same numbers
    np.testing.assert_allclose(model.score(new), model.sklearn_score(new), rtol=0, atol=1e-12)
    assert model.score([GOOD])[0] > model.score([BAD])[0]
    # a text without a known term scores the intercept, as scikit-learn's row of zeros does
    assert model.score(["qqq"])[0] == pytest.approx(float(model.ridge.intercept_))  # type: ignore[union-attr]


def test_pickled_score_gives_the_same_numbers() -> None:
    docs, y = corpus()
    model = TextScore().fit(docs, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.score(docs[:5]), model.score(docs[:5]))


def test_unfitted_or_termless_scores_are_nan() -> None:
    assert np.isnan(TextScore().score(["anything"])).all()
    lonely = TextScore().fit(["alpha", "beta", "gamma"], np.array([1.0, 2.0, 3.0]))  # min_df 2
    assert lonely.vectorizer is None and np.isnan(lonely.score(["alpha"])).all()


def test_out_of_fold_rows_never_see_their_own_label() -> None:
    docs, y = corpus()
    oof = TextScore().out_of_fold(docs, y, docs, folds=5)
    changed = y.copy()
    changed[10] += 100.0  # only row 10's own label moves
    again = TextScore().out_of_fold(docs, changed, docs, folds=5)
    assert again[10] == pytest.approx(oof[10])
    assert not np.allclose(again, oof)  # the other folds' rows did learn from it
    assert np.corrcoef(oof, y)[0, 1] > 0.9  # and the score still carries the signal


def test_out_of_fold_scores_rows_as_score_docs_says() -> None:
    docs, y = corpus()
    blanked = [d if i % 3 else "" for i, d in enumerate(docs)]
    oof = TextScore().out_of_fold(docs, y, docs, folds=5)
    scored = TextScore().out_of_fold(docs, y, blanked, folds=5)
    kept = [i for i in range(len(docs)) if i % 3]
    np.testing.assert_allclose(scored[kept], oof[kept])
    # a blank document scores its fold's intercept: no longer the text's signal
    assert np.corrcoef(scored[::3], y[::3])[0, 1] < np.corrcoef(oof[::3], y[::3])[0, 1]


def test_movie_features_carry_the_score_as_their_last_column() -> None:
    docs, y = corpus(80)
    rows = pd.DataFrame(
        {
            "title": [f"film {i}" for i in range(80)],
            "overview": docs,
            "release_date": "2005-05-05",
            "genres": [["Drama"]] * 80,
            "keywords": [["kw"]] * 80,
        }
    )
    feats = MovieFeatures(unknown_keywords_share=0.0, text_alpha=10.0)
    X = feats.fit_transform(rows, y)
    assert feats.get_feature_names_out()[-1] == "text_score"
    assert np.corrcoef(X[:, -1], y)[0, 1] > 0.9
    served = feats.transform([{"overview": GOOD}, {"overview": BAD}, {"title": "no text"}])
    assert served[0, -1] > served[1, -1] and np.isfinite(served[:, -1]).all()
    # without labels there is nothing to learn: NaN, the boosters' missing route
    assert np.isnan(MovieFeatures(text_alpha=10.0).fit(rows).transform(rows)[:, -1]).all()
    off = MovieFeatures().fit(rows, y)  # off by default
    assert "text_score" not in off.get_feature_names_out()
    assert off.transform(rows).shape[1] == X.shape[1] - 1


def test_a_feature_step_pickled_before_the_text_score_still_transforms() -> None:
    docs, y = corpus(40)
    rows = [
        {"title": f"t{i}", "overview": d, "release_date": "2005-05-05"} for i, d in enumerate(docs)
    ]
    old = MovieFeatures(text_alpha=None).fit(rows, y)
    state = old.__getstate__()
    for key in ("text_alpha", "text_score_"):  # attributes an older pickle does not have
        state.pop(key)
    loaded = MovieFeatures.__new__(MovieFeatures)
    loaded.__setstate__(state)
    out = loaded.transform(rows[:3])
    assert out.shape == (3, len(loaded.get_feature_names_out()))
    assert "text_score" not in loaded.get_feature_names_out()
