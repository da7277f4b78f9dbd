"""The fast sentiment is TextBlob's, number for number."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from textblob import TextBlob

from moviescore.training.sentiment import polarity_subjectivity

EDGE_CASES = [
    "",
    "   ",
    "Not good. Not bad! Really not bad at all!!",
    "A very, very good film :-) with a sad end :( and (!) irony ( ! ) too.",
    "He isn't happy; she'd never be. They're U.S. agents, Mr. Smith et al. in 1998).",
    "First paragraph is great.\n\nSecond one is terrible.\r\n\r\nThird: END-OF-SENTENCE ok",
    "“Quoted” ‘text’ and 'single' \"double\" quotes... wonderful... awful!",
    "Tabs\tand\u00a0non-breaking\u2003spaces\x1cand separators: extremely beautifully bad",
    "o_O XD x-D 8-) <3 ♥ :'( ;'( >:/ :-. hopelessly romantic",
    "never, ever a dull moment — unbelievably fun (PG-13).",
    "Released (1998) :-) with 8 ) and : ( spaced, x D and XD, o.O and o . O, :-..... wow",
    "Dots dropped by the split: great.....) sad...... ( ! ) very.... not... bad !",
    "Mr. Smith and Dr. Who, U.S.A. and e.g. a.m.; Mrs.) St.! very good. NOT good.",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_equal_textblob(text: str) -> None:
    expected = TextBlob(text).sentiment
    assert polarity_subjectivity(text) == (expected.polarity, expected.subjectivity)


def test_every_shared_overview_equals_textblob(tmdb_5000_zip: Path) -> None:
    frame = pd.read_csv(tmdb_5000_zip, usecols=["overview", "tagline"])
    texts = [t for column in frame for t in frame[column].dropna()]
    mismatches = [t for t in texts if polarity_subjectivity(t) != tuple(TextBlob(t).sentiment)]
    assert len(texts) > 7000 and mismatches == []


def test_the_rejoin_trie_matches_what_the_plain_alternation_matches() -> None:
    import re

    from moviescore.training import sentiment

    variants = {v for f in sentiment._FACES for v in sentiment._spaced(f)}
    plain = re.compile(
        "(?:"
        + "|".join(re.escape(v) for v in sorted(variants, key=lambda v: (-len(v), v)))
        + r")(?:$|\s)"
    )
    texts = [t for v in variants for t in (v, v + " end", "a " + v + "x", v[:-1], v[1:] + " ")]
    texts += EDGE_CASES + [" ".join(sentiment._tokens(sentiment._replaced(t))) for t in EDGE_CASES]
    for text in texts:
        assert bool(sentiment._REJOINED.search(text)) == bool(plain.search(text)), text


def test_the_token_cache_changes_no_score(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long tokens are split every time, a full cache starts over: the numbers never move."""
    from moviescore.training import sentiment

    monkeypatch.setattr(sentiment, "MAX_PARTS", 5)  # starts over several times per text
    monkeypatch.setattr(sentiment, "_PARTS", {})
    monkeypatch.setattr(sentiment, "_INACTIVE_RAW", set())
    long_word = "wonderfully" + "x" * sentiment.MAX_PART_CHARS + "!"
    texts = [*EDGE_CASES, f"A {long_word} not {long_word}. Very {long_word} good!"]
    for _ in range(2):  # cold, then from the cache
        for text in texts:
            expected = TextBlob(text).sentiment
            assert polarity_subjectivity(text) == (expected.polarity, expected.subjectivity), text
    assert len(sentiment._PARTS) <= 5 and long_word not in sentiment._PARTS


def test_the_cheap_precheck_finds_every_text_the_exact_one_does() -> None:
    """`_MAYBE_REJOINED` asks the text what `_REJOINED` asks its joined tokens: it may say yes
    more often, never less."""
    from moviescore.training import sentiment

    faces = sorted(sentiment._FACES)
    texts = [f"a{v}b" for f in faces for v in sentiment._spaced(f)]
    texts += [f"x {f[0]}...{f[1:]} y" for f in faces] + EDGE_CASES
    for text in texts:
        replaced = sentiment._replaced(text)
        joined = " ".join(sentiment._tokens(replaced))
        if sentiment._REJOINED.search(joined):
            assert sentiment._MAYBE_REJOINED.search(replaced), text
