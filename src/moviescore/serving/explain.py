"""Why the model said what it said: exact per-feature contributions summed into the groups a
producer thinks in, each with a short reading of the input behind it.

The per-feature part belongs to each candidate's spec (`ModelSpec.contributor`: the boosters'
own TreeSHAP, shap's for the forest); here the features are grouped, so `base_rating + sum of
the group values` is the regressor's raw (unclamped) output for the movie.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from moviescore.serving.ranges import money
from moviescore.training.specs import spec_for

GENRES, BUDGET, RUNTIME, RELEASE = "genres", "budget", "runtime", "release date"
OVERVIEW, KEYWORDS, COMPANIES = "overview text and sentiment", "keywords", "production companies"
LANGUAGE, TITLE = "language and countries", "title, tagline and homepage"
GROUPS = (GENRES, BUDGET, RUNTIME, RELEASE, OVERVIEW, KEYWORDS, COMPANIES, LANGUAGE, TITLE)

_EXACT = {
    "overview_words": OVERVIEW,
    "overview_polarity": OVERVIEW,
    "overview_subjectivity": OVERVIEW,
    "title_words": TITLE,
    "runtime": RUNTIME,
    "log_budget": BUDGET,
    "release_year": RELEASE,
    "release_month": RELEASE,
    "release_weekday": RELEASE,
    "n_genres": GENRES,
    "n_keywords": KEYWORDS,
    "n_companies": COMPANIES,
    "n_countries": LANGUAGE,
    "n_spoken_languages": LANGUAGE,
    "has_homepage": TITLE,
    "has_tagline": TITLE,
    "is_english": LANGUAGE,
    "us_production": LANGUAGE,
    "title_is_translated": TITLE,
    "sequel_hint": TITLE,
    # the TF-IDF ridge score reads keywords, genres and companies too, but mostly the overview
    "text_score": OVERVIEW,
}
_PREFIXES = (
    ("genre_", GENRES),
    ("lang_", LANGUAGE),
    ("te_keywords_", KEYWORDS),
    ("te_production_companies_", COMPANIES),
    ("te_genres_", GENRES),
)


def group_of(feature: str) -> str:
    """The group of one feature name; KeyError for a feature no group owns."""
    if feature in _EXACT:
        return _EXACT[feature]
    for prefix, group in _PREFIXES:
        if feature.startswith(prefix):
            return group
    raise KeyError(f"feature {feature!r} belongs to no explanation group")


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _listed(items: Sequence[str] | None, noun: str, plural: str, known: Any) -> str:
    if items is None:
        return f"{plural} not given (unknown)"
    if not items:
        return f"no {plural}"
    hits = sum(item in known for item in items)
    return f"{_count(len(items), noun, plural)}, {hits} known to the model"


class Explainer:
    """Explains one served pipeline; built once per model (the forest's explainer is not free)."""

    def __init__(self, pipeline: Pipeline) -> None:
        features, regressor = pipeline[0], pipeline[-1]
        model_spec = spec_for(regressor)
        if model_spec is None:
            raise ValueError(f"no contributions for {type(regressor).__name__}")
        self._contributions: Callable[[np.ndarray], np.ndarray] = model_spec.contributor(regressor)
        names = [str(n) for n in features.get_feature_names_out()]
        groups = [group_of(n) for n in names]
        # (n_features, n_groups) 0/1 matrix: contributions @ it = per-group sums
        self._summing = np.array([[float(g == group) for group in GROUPS] for g in groups])
        encodings = getattr(features, "encodings_", {})
        self.known_keywords = encodings.get("keywords", {})
        self.known_companies = encodings.get("production_companies", {})
        self.known_genres = set(getattr(features, "genres_", ()))

    def raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(base rating per row, (rows, groups) contributions) of a feature matrix."""
        phi = np.asarray(self._contributions(X), dtype=float)
        return phi[:, -1], phi[:, :-1] @ self._summing

    def explain(self, X: np.ndarray, movies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One `{base_rating, contributions: [{group, value, detail}]}` per movie (raw records),
        the groups by decreasing absolute value."""
        base, values = self.raw(X)
        out = []
        for row, movie in enumerate(movies):
            parts: list[dict[str, Any]] = [
                {"group": group, "value": round(float(v), 4), "detail": self.detail(group, movie)}
                for group, v in zip(GROUPS, values[row].tolist(), strict=True)
            ]
            parts.sort(key=lambda p: -abs(p["value"]))
            out.append({"base_rating": round(float(base[row]), 4), "contributions": parts})
        return out

    def detail(self, group: str, movie: Mapping[str, Any]) -> str:
        """A short reading of the inputs behind one group."""
        if group == GENRES:
            genres = list(movie.get("genres") or [])
            unknown = [g for g in genres if g not in self.known_genres]
            text = ", ".join(genres) or "no genres"
            return text + (f" ({', '.join(unknown)} unknown to the model)" if unknown else "")
        if group == BUDGET:
            budget = movie.get("budget")
            return f"budget {money(budget)}" if budget else "budget unknown"
        if group == RUNTIME:
            runtime = movie.get("runtime")
            return f"{runtime:g} min" if runtime else "runtime unknown"
        if group == RELEASE:
            day = date.fromisoformat(str(movie.get("release_date"))[:10])
            return f"{day:%d %B %Y}, a {day:%A}"
        if group == OVERVIEW:
            from moviescore.training.features import WORD, sentiment

            text = str(movie.get("overview") or "")
            if not text.strip():
                return "no overview"
            polarity, subjectivity = sentiment(text)
            return (
                f"{_count(len(WORD.findall(text)), 'word')}, polarity {polarity:+.2f}, "
                f"subjectivity {subjectivity:.2f}"
            )
        if group == KEYWORDS:
            return _listed(movie.get("keywords"), "keyword", "keywords", self.known_keywords)
        if group == COMPANIES:
            companies = movie.get("production_companies")
            return _listed(companies, "company", "companies", self.known_companies)
        if group == LANGUAGE:
            countries = ", ".join(movie.get("production_countries") or []) or "none given"
            return f"original language {movie.get('original_language')}; countries {countries}"
        title = str(movie.get("title") or "")
        tagline = "a tagline" if str(movie.get("tagline") or "").strip() else "no tagline"
        homepage = "a homepage" if str(movie.get("homepage") or "").strip() else "no homepage"
        return f"{len(title.split())}-word title, {tagline}, {homepage}"
