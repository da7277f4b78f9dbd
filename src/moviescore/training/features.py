"""THE feature path: raw movie records -> model matrix, shared by training and serving.

`MovieFeatures` is fitted once on the training rows and pickled inside the served Pipeline, so
training and serving cannot drift. Only what is known before release enters: the post-release
fields of `schema.POST_RELEASE_FIELDS` are never read. `transform` walks the records and fills a
float32 array row by row, so a single API request costs well under a millisecond.

The overview's TextBlob sentiment (polarity, subjectivity) is a model input because the product
names it as one, though on the rolling validation folds it was neutral to slightly harmful; the
benchmark reports that ablation. `moviescore.training.sentiment` computes TextBlob's exact numbers
several times faster, and it is cached per text, so repeated transforms stay cheap.

The rest of the text (overview, tagline, keywords, genres, companies) can enter as one number,
the out-of-fold TF-IDF ridge score of `moviescore.training.text_score` (the last column, with
`text_alpha`). It is off by default: on the rolling backtest it helped the development folds a
little and hurt the newest ones, and it more than doubles the cost of a row with a new text
(docs/BENCHMARKS.md, quality section).

A list field that is None/NaN is UNKNOWN (e.g. keywords from a source that has no keywords), not
empty: its count and target encoding are NaN. `fit_transform` blanks the keywords of a seeded share
of the training rows (`unknown_keywords_share`) so the boosters learn a sensible route for NaN;
without it a keyword-less release reads as an obscure film and is predicted ~0.85 too low.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from moviescore.ingest.raw_movie import CREDIT_FIELDS
from moviescore.training import text_score
from moviescore.training.sentiment import polarity_subjectivity
from moviescore.training.text_score import TextScore

WORD = re.compile(r"\w+")
ASCII_WORD = re.compile(r"\w+", re.ASCII)  # the same words in an ASCII text, found faster
SEQUEL = re.compile(r"(?:\b(?:[2-9]|ii|iii|iv|part)\b|:)", re.IGNORECASE)
OTHER = "other"
# Numeric features in column order; the vocabulary blocks follow them.
BASE_FEATURES = (
    "overview_words",
    "overview_polarity",
    "overview_subjectivity",
    "title_words",
    "runtime",
    "log_budget",
    "release_year",
    "release_month",
    "release_weekday",
    "n_genres",
    "n_keywords",
    "n_companies",
    "n_countries",
    "n_spoken_languages",
    "has_homepage",
    "has_tagline",
    "is_english",
    "us_production",
    "title_is_translated",
    "sequel_hint",
)
# List fields whose items get a smoothed, out-of-fold target encoding (mean over the items).
TARGET_ENCODED = ("production_companies", "keywords", "genres")
MASKED_FIELD = "keywords"  # the list field some sources lack entirely
# Who made it (CREDIT_FIELDS) is not in TARGET_ENCODED: no labelled data here has credits, so
# their effect is unmeasured; `with_credits()` is the switch (docs/BENCHMARKS.md).


# Only texts up to this size (the str object's, sys.getsizeof) are cached, so the cache is
# bounded in bytes: at most 65,536 × 1,200 B of text. TMDB overviews (≤ 1,000 characters)
# fit; the API's longer ones are scored on every call.
MAX_CACHED_TEXT_BYTES = 1_200


def _text_stats(text: str) -> tuple[int, float, float]:
    polarity, subjectivity = polarity_subjectivity(text)  # = TextBlob(text).sentiment, faster
    words = (ASCII_WORD if text.isascii() else WORD).findall(text)
    return len(words), float(polarity), float(subjectivity)


# One cache for the overview's word count and sentiment: a repeated text costs one lookup.
_cached_text_stats = functools.lru_cache(maxsize=65536)(_text_stats)


def text_stats(text: object) -> tuple[int, float, float]:
    """(words, polarity in [-1, 1], subjectivity in [0, 1]) of a text; zeros for empty or
    missing."""
    if not isinstance(text, str) or not text or text.isspace():  # = not text.strip(), no copy
        return 0, 0.0, 0.0
    if sys.getsizeof(text) > MAX_CACHED_TEXT_BYTES:
        return _text_stats(text)
    return _cached_text_stats(text)


def sentiment(text: object) -> tuple[float, float]:
    """(polarity in [-1, 1], subjectivity in [0, 1]) of a text; (0, 0) for empty or missing."""
    return text_stats(text)[1:]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _unknown(value: object) -> bool:
    """None/NaN/NA/absent: the source does not say (unlike [], which says "none")."""
    return value is None or value is pd.NA or isinstance(value, float)


def _count(value: object) -> float:
    return math.nan if _unknown(value) else len(_items(value))


def _items(value: object) -> list[str]:
    """A list field as a list of str; None/NaN/absent -> []; parquet gives numpy arrays."""
    if _unknown(value):
        return []
    if type(value) is list:  # what JSON, the API and TMDB give: often already all str
        for item in value:
            if type(item) is not str:
                break
        else:
            return value  # read only by every caller: no copy
    if isinstance(value, str):
        return [value] if value else []
    # list and tuple first: the ABC check alone costs more than the rest of this function
    if isinstance(value, (list, tuple, Iterable)):
        return [str(v) for v in value if v is not None and v == v]
    raise TypeError(f"expected a list of strings, got {type(value).__name__}")


def _positive(value: object, field: str) -> float:
    """A positive number, or NaN when missing/zero (TMDB's 'unknown')."""
    if value is None or value is pd.NA or (isinstance(value, str) and not value.strip()):
        return math.nan
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    return number if number > 0 else math.nan


def _date(value: object) -> date | None:
    if isinstance(value, datetime):  # pandas Timestamp included
        return None if pd.isna(value) else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise ValueError(f"release_date must be YYYY-MM-DD, got {value!r}") from None
    return None


def _records(X: pd.DataFrame | Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    if isinstance(X, pd.DataFrame):
        return X.to_dict("records")  # type: ignore[return-value]
    if isinstance(X, Mapping):
        raise TypeError("pass a list of records, not a single dict")
    return X


# auto_wrap_output_keys=None: no sklearn set_output wrapper around transform, whose per-call cost
# is a visible share of scoring one movie in the API.
class MovieFeatures(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """Raw records (DataFrame or list of dicts) -> float32 matrix of pre-release features."""

    def __init__(
        self,
        min_language_count: int = 10,
        smoothing: float = 10.0,
        folds: int = 5,
        target_encoded: tuple[str, ...] = TARGET_ENCODED,
        unknown_keywords_share: float = 0.35,
        text_alpha: float | None = None,  # 10.0 turns the text score on
    ):
        self.min_language_count = min_language_count
        self.smoothing = smoothing
        self.folds = folds
        self.target_encoded = target_encoded
        self.unknown_keywords_share = unknown_keywords_share
        self.text_alpha = text_alpha

    def fit(self, X: Any, y: Any = None) -> MovieFeatures:
        return self._fit(X, y)

    def _fit(self, X: Any, y: Any = None, fit_text: bool = True) -> MovieFeatures:
        self.__dict__.pop("_columns", None)  # refitting may change the vocabularies
        records = _records(X)
        genres = Counter(g for r in records for g in _items(r.get("genres")))
        langs = Counter(_text(r.get("original_language")) or OTHER for r in records)
        self.genres_ = sorted(genres)
        self.languages_ = sorted(
            {lang for lang, n in langs.items() if n >= self.min_language_count} | {OTHER}
        )
        self.encodings_: dict[str, dict[str, float]] = {}
        # How many training films name each encoded item: the API's vocabulary suggestions,
        # most used first (models pickled before this lack it; moviescore.serving.vocabulary).
        self.item_counts_: dict[str, dict[str, int]] = {}
        if y is not None:
            item_sets = self._item_sets(records)
            self.encodings_ = self._encodings_from(item_sets, np.asarray(y, dtype=float))
            self.item_counts_ = {
                field: dict(Counter(item for sets in item_sets for item in sets[k]))
                for k, field in enumerate(self.target_encoded)
            }
        # Only with the text score on; unlabelled rows teach it nothing (unfitted, it scores NaN).
        self.text_score_ = TextScore(self.text_alpha) if self.text_alpha is not None else None
        if self.text_score_ is not None and y is not None and fit_text:
            docs = [text_score.document(r) for r in records]
            self.text_score_.fit(docs, np.asarray(y, dtype=float))
        self.n_features_in_ = len(BASE_FEATURES)  # records, not columns: keep sklearn quiet
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then encode the training rows out-of-fold so they never see their own label,
        and blank the keywords of `unknown_keywords_share` of them (training rows only)."""
        if not 0.0 <= self.unknown_keywords_share <= 1.0:  # before any work, not after it
            raise ValueError(
                f"unknown_keywords_share must be in [0, 1], got {self.unknown_keywords_share}"
            )
        records = _records(X)
        out_of_fold = y is not None and len(records) >= 2 * self.folds
        self._fit(records, y, fit_text=not out_of_fold)  # else the text score is fitted below
        out = self.transform(records)
        masked = np.random.default_rng(0).random(len(out)) < self.unknown_keywords_share
        if out_of_fold:
            y_arr = np.asarray(y, dtype=float)
            if self.encodings_:
                self._encode_out_of_fold(records, y_arr, out)
            if self._has_text:
                self._score_text_out_of_fold(records, y_arr, masked, out)
        self._mask_keywords(out, masked)
        return out

    @property
    def _has_text(self) -> bool:
        """Whether the last column is the text score (models pickled before it have none)."""
        return getattr(self, "text_alpha", None) is not None

    def _score_text_out_of_fold(
        self,
        records: Sequence[Mapping[str, Any]],
        y_arr: np.ndarray,
        masked: np.ndarray,
        out: np.ndarray,
    ) -> None:
        """The text score of the training rows out of fold; a masked row is scored without
        its keywords, as a source lacking them would be."""
        docs = [text_score.document(r) for r in records]
        no_keywords = tuple(f for f in text_score.LIST_FIELDS if f != MASKED_FIELD)
        scored = [
            text_score.document(r, no_keywords) if m else d
            for r, d, m in zip(records, docs, masked, strict=True)
        ]
        assert self.text_score_ is not None  # _has_text
        out[:, -1] = self.text_score_.out_of_fold(docs, y_arr, scored, self.folds)

    def _mask_keywords(self, out: np.ndarray, rows: np.ndarray) -> None:
        """Seeded rows get the features a keyword-less source would give them; credits, when
        encoded, are blanked in the same rows (a source without keywords has none either)."""
        names = list(self.get_feature_names_out())
        cols = [i for i, n in enumerate(names) if n == f"n_{MASKED_FIELD}"]
        for field in (MASKED_FIELD, *CREDIT_FIELDS):
            cols += [i for i, n in enumerate(names) if n.startswith(f"te_{field}_")]
        out[np.ix_(np.flatnonzero(rows), np.asarray(cols))] = np.nan

    def _encode_out_of_fold(
        self, records: Sequence[Mapping[str, Any]], y_arr: np.ndarray, out: np.ndarray
    ) -> None:
        items = self._item_sets(records)  # parsed once, reused by every fold
        start = self._columns[2]  # where the target encodings begin
        stop = start + 3 * len(self.target_encoded)
        kfold = KFold(self.folds, shuffle=True, random_state=0)
        for fit_idx, enc_idx in kfold.split(out):
            fold_enc = self._encodings_from([items[i] for i in fit_idx], y_arr[fit_idx])
            for i in enc_idx:
                out[i, start:stop] = self._encode(records[i], fold_enc)

    def _item_sets(self, records: Sequence[Mapping[str, Any]]) -> list[list[set[str]]]:
        """Per record, the set of items of each target-encoded field."""
        return [[set(_items(r.get(f))) for f in self.target_encoded] for r in records]

    def _encodings_from(
        self, item_sets: Sequence[list[set[str]]], y: np.ndarray
    ) -> dict[str, dict[str, float]]:
        """Per item: smoothed mean of (label - global mean); rare items shrink towards 0."""
        residual = y - y.mean()
        encodings = {}
        for k, field in enumerate(self.target_encoded):
            sums: Counter[str] = Counter()
            counts: Counter[str] = Counter()
            for sets, res in zip(item_sets, residual, strict=True):
                for item in sets[k]:
                    sums[item] += res
                    counts[item] += 1
            encodings[field] = {i: sums[i] / (counts[i] + self.smoothing) for i in counts}
        return encodings

    def _encode(
        self, rec: Mapping[str, Any], encodings: dict[str, dict[str, float]]
    ) -> list[float]:
        values = []
        for field in self.target_encoded:
            if _unknown(rec.get(field)):
                values += [math.nan] * 3
                continue
            enc = encodings.get(field, {})
            hits = [v for v in map(enc.get, _items(rec.get(field))) if v is not None]
            values += [sum(hits) / len(hits), min(hits), max(hits)] if hits else [0.0, 0.0, 0.0]
        return values

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = list(BASE_FEATURES)
        names += [f"genre_{g}" for g in self.genres_]
        names += [f"lang_{lang}" for lang in self.languages_]
        names += [f"te_{f}_{s}" for f in self.target_encoded for s in ("mean", "min", "max")]
        names += ["text_score"] if self._has_text else []
        return np.asarray(names, dtype=object)

    @functools.cached_property
    def _columns(self) -> tuple[dict[str, int], dict[str, int], int]:
        """Column of each genre and language, and where the target encodings start: fixed once
        fitted, so computed once, not per call (models pickled before this still load)."""
        genre_col = {g: len(BASE_FEATURES) + i for i, g in enumerate(self.genres_)}
        lang_start = len(BASE_FEATURES) + len(self.genres_)
        lang_col = {lang: lang_start + i for i, lang in enumerate(self.languages_)}
        return genre_col, lang_col, lang_start + len(self.languages_)

    def transform(self, X: Any) -> np.ndarray:
        records = _records(X)
        genre_col, lang_col, te_start = self._columns
        te_stop = te_start + 3 * len(self.target_encoded)
        out = np.zeros((len(records), te_stop + self._has_text), dtype=np.float32)
        for i, rec in enumerate(records):
            out[i, : len(BASE_FEATURES)] = self._base(rec)
            for g in _items(rec.get("genres")):
                if g in genre_col:  # unseen genres carry no signal the model could use
                    out[i, genre_col[g]] = 1.0
            lang = _text(rec.get("original_language"))
            out[i, lang_col.get(lang, lang_col[OTHER])] = 1.0
            out[i, te_start:te_stop] = self._encode(rec, self.encodings_)
        if self._has_text:
            assert self.text_score_ is not None  # fitted with text_alpha set
            out[:, -1] = self.text_score_.score([text_score.document(r) for r in records])
        return out

    @staticmethod
    def _base(rec: Mapping[str, Any]) -> list[float]:
        tagline = _text(rec.get("tagline"))
        title, original = _text(rec.get("title")), _text(rec.get("original_title"))
        budget = _positive(rec.get("budget"), "budget")
        released = _date(rec.get("release_date"))
        countries = rec.get("production_countries")
        nan = math.nan
        return [
            *text_stats(rec.get("overview")),
            len(WORD.findall(title)),
            _positive(rec.get("runtime"), "runtime"),
            math.log1p(budget),  # NaN stays NaN: the boosters route missing values themselves
            released.year if released else nan,
            released.month if released else nan,
            released.weekday() if released else nan,
            _count(rec.get("genres")),
            _count(rec.get("keywords")),
            _count(rec.get("production_companies")),
            _count(countries),
            _count(rec.get("spoken_languages")),
            float(bool(_text(rec.get("homepage")).strip())),
            float(bool(tagline.strip())),
            float(_text(rec.get("original_language")) == "en"),
            float("US" in _items(countries)),
            float(bool(original) and original != title),
            float(bool(SEQUEL.search(title))),
        ]


def with_credits(features: MovieFeatures | None = None) -> MovieFeatures:
    """`features` (default: a fresh MovieFeatures) also target-encoding directors, writers and
    the lead cast, out of fold like companies; a source without credits gives NaN there."""
    features = features or MovieFeatures()
    extra = tuple(f for f in CREDIT_FIELDS if f not in features.target_encoded)
    return features.set_params(target_encoded=features.target_encoded + extra)


def make_pipeline(regressor: Any, features: MovieFeatures | None = None) -> Pipeline:
    """THE served artifact: features + regressor in one picklable object."""
    return Pipeline([("features", features or MovieFeatures()), ("model", regressor)])
