"""The text score: one number per film, a ridge regression of its rating on the TF-IDF of its
words (overview, tagline, keywords, genres, production companies).

The boosters see the text only through this score and the overview's sentiment: thousands of
sparse word columns would swamp a few thousand rows, whereas a linear model pools the small
evidence of many words into one column a tree can split on. `MovieFeatures` fits it on the
training rows and scores those rows out of fold (a row's own label never reaches its score), as
it does for the target encodings.

A list item is one token (spaces become underscores: "New York" is not "new" + "york"); a list
that is unknown (None) simply adds no words, as an empty one does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline

TEXT_FIELDS = ("overview", "tagline")
LIST_FIELDS = ("keywords", "genres", "production_companies")


def _items(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if isinstance(v, str)]
    return []  # None, NaN: unknown adds no words


def document(rec: Mapping[str, Any], lists: Sequence[str] = LIST_FIELDS) -> str:
    """The words of one record the score reads, as one string."""
    parts = [v for v in (rec.get(f) for f in TEXT_FIELDS) if isinstance(v, str)]
    for field in lists:
        parts += [item.replace(" ", "_") for item in _items(rec.get(field))]
    return " ".join(parts)


def text_model(alpha: float) -> Pipeline:
    """An unfitted TF-IDF (words seen in two documents or more, sublinear counts) + ridge."""
    return make_pipeline(TfidfVectorizer(min_df=2, sublinear_tf=True), Ridge(alpha=alpha))


def fit_text_model(docs: Sequence[str], y: np.ndarray, alpha: float) -> Pipeline | None:
    """The fitted model, or None when the documents share no word (nothing to learn from)."""
    try:
        return text_model(alpha).fit(list(docs), y)
    except ValueError:  # sklearn: "After pruning, no terms remain" / "empty vocabulary"
        return None


def score(model: Pipeline | None, docs: Sequence[str]) -> np.ndarray:
    """The model's score of each document; NaN everywhere without a model."""
    if model is None:
        return np.full(len(docs), np.nan)
    return np.asarray(model.predict(list(docs)), dtype=float)


def out_of_fold(
    fit_docs: Sequence[str], y: np.ndarray, score_docs: Sequence[str], alpha: float, folds: int
) -> np.ndarray:
    """Each row's score from a model fitted on the other folds' `fit_docs`; the row itself is
    scored as `score_docs[i]` (e.g. its document without keywords, as a source lacking them
    would give it)."""
    out = np.full(len(fit_docs), np.nan)
    for fit_idx, enc_idx in KFold(folds, shuffle=True, random_state=0).split(out):
        model = fit_text_model([fit_docs[i] for i in fit_idx], y[fit_idx], alpha)
        out[enc_idx] = score(model, [score_docs[i] for i in enc_idx])
    return out
