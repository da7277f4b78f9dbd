"""The text score: one number per film, a ridge regression of its rating on the TF-IDF of its
words and word pairs (overview, tagline, keywords, genres, production companies).

The boosters see the text only through this score and the overview's sentiment: tens of
thousands of sparse columns would swamp a few thousand rows, whereas a linear model pools the
small evidence of many words into one column a tree can split on. `MovieFeatures` fits it on the
training rows and scores those rows out of fold (a row's own label never reaches its score), as
it does for the target encodings.

A list item is one token (spaces become underscores: "New York" is not "new" + "york"); a list
that is unknown (None) adds no words, as an empty one does.

Scoring one film through scikit-learn's vectoriser and ridge costs several times the rest of the
feature row (input checks, a sparse matrix per call), so `TextScore.score` computes the same
number from the fitted vocabulary, IDF and coefficients with the vectoriser's own analyser;
`sklearn_score` is the reference the tests hold it to.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

TEXT_FIELDS = ("overview", "tagline")
# The score cache holds at most CACHED_DOCS documents of at most MAX_CACHED_CHARS characters.
CACHED_DOCS = 4096
MAX_CACHED_CHARS = 2_000
LIST_FIELDS = ("keywords", "genres", "production_companies")


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern


def _words_and_pairs(doc: str) -> list[str]:
    tokens = _TOKEN.findall(doc.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def _fast_analyser(vectorizer: TfidfVectorizer) -> Any:
    """`_words_and_pairs` when it is exactly what `vectorizer.build_analyzer()` does (the
    settings this module fits with), which spends a slice and a join on every word pair; None
    for any other settings."""
    defaults = TfidfVectorizer()
    same = all(
        getattr(vectorizer, k) == getattr(defaults, k)
        for k in ("analyzer", "token_pattern", "lowercase", "preprocessor", "tokenizer",
                  "stop_words", "strip_accents", "input", "decode_error")
    )  # fmt: skip
    return _words_and_pairs if same and vectorizer.ngram_range == (1, 2) else None


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


class TextScore:
    """TF-IDF (words and word pairs seen in two documents or more, sublinear counts, l2 rows)
    + ridge. Unfitted, or fitted on documents that share no term, it scores NaN."""

    def __init__(self, alpha: float = 10.0) -> None:
        self.alpha = alpha
        self.vectorizer: TfidfVectorizer | None = None
        self.ridge: Ridge | None = None

    def fit(self, docs: Sequence[str], y: np.ndarray) -> TextScore:
        self._fit(docs, y)
        return self

    def _fit(self, docs: Sequence[str], y: np.ndarray) -> Any:
        """Fit; the documents' TF-IDF matrix, or None when they share no term."""
        vectorizer = TfidfVectorizer(min_df=2, sublinear_tf=True, ngram_range=(1, 2))
        try:
            X = vectorizer.fit_transform(list(docs))
        except ValueError:  # sklearn: no term left after pruning / empty vocabulary
            self.vectorizer = self.ridge = None
            return None
        self._set(vectorizer, Ridge(alpha=self.alpha).fit(X, y))
        return X

    def _set(self, vectorizer: TfidfVectorizer, ridge: Ridge) -> TextScore:
        vectorizer.stop_words_ = None  # the pruned terms: only for inspection, large to pickle
        self.vectorizer, self.ridge = vectorizer, ridge
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._idf = vectorizer.idf_.tolist()
        self._coef = ridge.coef_.tolist()
        self._intercept = float(ridge.intercept_)
        self._build()
        return self

    def _build(self) -> None:
        """What is rebuilt rather than pickled: the analyser, and a bounded cache of scores (a
        what-if batch repeats one film's text in every row; a user retries the same film)."""
        assert self.vectorizer is not None
        self._analyse = _fast_analyser(self.vectorizer) or self.vectorizer.build_analyzer()
        self._cached = functools.lru_cache(maxsize=CACHED_DOCS)(self._score_one)
        # Per term: (idf × coefficient, idf²): a term seen once costs two additions.
        idf, coef = self._idf, self._coef
        self._weights = {
            t: (idf[j] * coef[j], idf[j] * idf[j]) for t, j in self._vocabulary.items()
        }

    def __getstate__(self) -> dict[str, Any]:
        rebuilt = ("_analyse", "_cached", "_weights")
        return {k: v for k, v in self.__dict__.items() if k not in rebuilt}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.vectorizer is not None:
            self._build()

    def score(self, docs: Sequence[str]) -> np.ndarray:
        """The score of each document: the ridge's prediction on its TF-IDF row."""
        if self.vectorizer is None:
            return np.full(len(docs), np.nan)
        cached, one = self._cached, self._score_one
        return np.fromiter(
            (cached(d) if len(d) <= MAX_CACHED_CHARS else one(d) for d in docs),
            dtype=float,
            count=len(docs),
        )

    def _score_one(self, doc: str) -> float:
        weights = self._weights
        dot = norm = 0.0
        for term, n in Counter(self._analyse(doc)).items():
            w = weights.get(term)
            if w is None:  # not a term of the vocabulary
                continue
            if n == 1:
                dot += w[0]
                norm += w[1]
            else:  # sublinear tf
                f = 1.0 + math.log(n)
                dot += f * w[0]
                norm += f * f * w[1]
        return self._intercept + (dot / math.sqrt(norm) if norm else 0.0)

    def sklearn_score(self, docs: Sequence[str]) -> np.ndarray:
        """The same scores through scikit-learn (slow per call; the reference)."""
        if self.vectorizer is None or self.ridge is None:
            return np.full(len(docs), np.nan)
        return np.asarray(self.ridge.predict(self.vectorizer.transform(list(docs))), dtype=float)

    def out_of_fold(
        self, docs: Sequence[str], y: np.ndarray, score_docs: Sequence[str], folds: int
    ) -> np.ndarray:
        """Fit on `docs`, and give each row the score of a ridge fitted on the other folds'
        rows; the row is scored as `score_docs[i]` (e.g. its document without keywords, as a
        source lacking them would give it). The vocabulary and IDF come from every row: they
        read no label."""
        X = self._fit(docs, y)
        out = np.full(len(docs), np.nan)
        if X is None:
            return out
        changed = [i for i, (d, s) in enumerate(zip(docs, score_docs, strict=True)) if d != s]
        vectorizer = self.vectorizer
        assert vectorizer is not None  # fitted: X is not None
        X_changed = vectorizer.transform([score_docs[i] for i in changed]) if changed else X
        for fit_idx, enc_idx in KFold(folds, shuffle=True, random_state=0).split(out):
            ridge = Ridge(alpha=self.alpha).fit(X[fit_idx], y[fit_idx])
            out[enc_idx] = ridge.predict(X[enc_idx])
            scored = np.zeros(len(docs), dtype=bool)
            scored[enc_idx] = True
            rows = [k for k, i in enumerate(changed) if scored[i]]
            if rows:
                out[[changed[k] for k in rows]] = ridge.predict(X_changed[rows])
        return out
