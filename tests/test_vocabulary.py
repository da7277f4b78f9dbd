"""moviescore.serving.vocabulary against a brute-force reading of the training records."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from moviescore.serving.vocabulary import MAX_LIMIT, MAX_NAME_CHARS, Vocabulary
from moviescore.training.features import MovieFeatures
from tests.helpers.movies import raw_movie

SYLLABLES = ["ab", "Ab", "ba", "é", "Straße", "strasse", " ", "x", "ǅ", "🎬"]


def fitted(keywords: list[list[str]]) -> MovieFeatures:
    records = [raw_movie(i, keywords=k) for i, k in enumerate(keywords)]
    return MovieFeatures().fit(records, [float(i % 7) for i in range(len(records))])


def random_keywords(seed: int) -> list[list[str]]:
    rng = random.Random(seed)

    def name() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))

    pool = [name() for _ in range(150)]
    return [rng.sample(pool, rng.randint(0, 6)) for _ in range(300)]


def brute_force(keywords: list[list[str]], prefix: str) -> list[tuple[str, int]]:
    films = Counter(k for ks in keywords for k in set(ks))
    hits = [k for k in films if k.strip() and k.casefold().startswith(prefix.lstrip().casefold())]
    return sorted(((k, films[k]) for k in hits), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prefix_lookup_agrees_with_a_scan(seed: int) -> None:
    keywords = random_keywords(seed)
    vocabulary = Vocabulary(fitted(keywords))
    prefixes = ["", "a", "AB", "abab", "ST", "straß", "STRASS", "é", "ǆ", " x", "🎬", "zz", "x" * 9]
    for prefix in prefixes:
        for limit in (1, 7, MAX_LIMIT):
            answer = vocabulary.suggest("keywords", prefix, limit)
            expected = brute_force(keywords, prefix)
            assert answer["total"] == len(expected), prefix
            got = [(i["name"], i["films"]) for i in answer["items"]]
            assert got == expected[:limit], (prefix, limit)


def test_names_the_api_would_refuse_are_not_suggested() -> None:
    too_long = "y" * (MAX_NAME_CHARS + 1)
    vocabulary = Vocabulary(fitted([["ok", too_long, "  "], ["ok"]]))
    assert vocabulary.suggest("keywords")["items"] == [{"name": "ok", "films": 2}]


def test_unknown_field_or_limit_is_refused() -> None:
    vocabulary = Vocabulary(fitted([["ok"]]))
    with pytest.raises(ValueError, match="keywords, production_companies"):
        vocabulary.suggest("genres")
    for limit in (0, MAX_LIMIT + 1):
        with pytest.raises(ValueError, match="limit"):
            vocabulary.suggest("keywords", limit=limit)


@pytest.mark.parametrize("features", [MovieFeatures().fit([raw_movie(0)]), object()])
def test_a_step_without_encodings_knows_no_names(features: Any) -> None:
    vocabulary = Vocabulary(features)  # fitted without labels, or not a MovieFeatures at all
    assert vocabulary.suggest("production_companies")["items"] == []
    assert vocabulary.suggest("keywords")["total"] == 0
