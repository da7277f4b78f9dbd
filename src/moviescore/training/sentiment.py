"""TextBlob's sentiment of a text, computed the same way at a fraction of the cost.

`polarity_subjectivity(text)` returns exactly `textblob.en.sentiment(text)[:2]` (what
`TextBlob(text).sentiment` gives): the same lexicon (TextBlob's own en-sentiment.xml, read through
TextBlob), the same tokens and the same arithmetic, in the same order. It is faster because it
skips what cannot change the score: the sentence split (without paragraph breaks the token stream
is the same either way), the per-sentence expressions that re-join emoticons and sarcasm marks
(a text where one would apply is handed to TextBlob itself), and lookups through TextBlob's lazy
dictionary. tests/test_sentiment.py checks equality on every overview of the
shared data and on texts built to reach each branch.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from textblob import _text as pattern
from textblob.en import sentiment as _textblob

# When TextBlob's tokenizer could give other tokens than the fast path: a paragraph break (an
# END-OF-SENTENCE token, and a sentence split that drops it) or that token's literal text ...
_PARAGRAPH = re.compile(r"\n\s*\n|END-OF-SENTENCE")


def _spaced(face: str) -> list[str]:
    """`face` with one space in at least one of its gaps: what TextBlob re-joins."""
    out = []
    for gaps in itertools.product(("", " "), repeat=len(face) - 1):
        if " " in gaps:
            out.append("".join(c + g for c, g in zip(face, (*gaps, ""), strict=True)))
    return out


def _trie_pattern(words: set[str]) -> str:
    """One regular expression matching exactly `words`, nested by common prefix: the regex
    engine then follows one branch per character instead of trying every word in turn."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


# ... or, in the tokens joined by spaces, an emoticon or a sarcasm mark "(!)" that the split
# took apart: only then do TextBlob's re-joining expressions change the text. (Two searches: one
# alternation holding both is ten times slower.)
_REJOINED = re.compile(
    "(?:"
    + _trie_pattern({v for faces in pattern.EMOTICONS.values() for f in faces for v in _spaced(f)})
    + r")(?:$|\s)"
)
_SARCASM = ("( !", "! )")
_LEADING = frozenset(pattern.PUNCTUATION.replace(".", ""))
_TRAILING = _LEADING | {"."}
_PUNCT_TUPLE = tuple(pattern.PUNCTUATION.replace(".", ""))
_PUNCT_OR_PERIOD = (*_PUNCT_TUPLE, ".")
_REPLACE = pattern.replacements
_QUOTES = (("“", " “ "), ("”", " ” "), ("‘", " ‘ "), ("’", " ’ "), ("'", " ' "), ('"', ' " '))
_NEGATIONS = frozenset(_textblob.negations)
_MODIFIERS = tuple(_textblob.modifiers)


def _lexicon() -> tuple[dict[str, tuple[float, float, float]], frozenset[str], dict[str, float]]:
    """(word -> (p, s, i) of its any-POS sense, words that modify the next, emoticon -> p)."""
    len(_textblob)  # loads TextBlob's lazy lexicon
    words = {w: tuple(senses[None]) for w, senses in dict.items(_textblob)}
    modifying = frozenset(
        w for w, senses in dict.items(_textblob) if any(m in senses for m in _MODIFIERS)
    )
    emoticons: dict[str, float] = {}
    for (_, p), faces in pattern.EMOTICONS.items():  # the first type that has a face wins
        for face in faces:
            emoticons.setdefault(face.lower(), p)
    return words, modifying, emoticons


_WORDS, _MODIFYING, _EMOTICONS = _lexicon()
# The words that change the score while no modifier or negation is pending: any other word
# can only end a pending one, so with none pending it is skipped unread.
_ACTIVE = frozenset(_WORDS) | _NEGATIONS | frozenset(_EMOTICONS) | {"!", "(!)"}


def _split_edges(t: str, tokens: list[str]) -> None:
    """textblob._text.find_tokens' per-token punctuation split, verbatim."""
    tail = []
    while t.startswith(_PUNCT_TUPLE) and t not in _REPLACE:
        if t.startswith(_PUNCT_TUPLE):
            tokens.append(t[0])
            t = t[1:]
    while t.endswith(_PUNCT_OR_PERIOD) and t not in _REPLACE:
        if t.endswith(_PUNCT_TUPLE):
            tail.append(t[-1])
            t = t[:-1]
        if t.endswith("..."):
            tail.append("...")
            t = t[:-3].rstrip(".")
        if t.endswith("."):
            if (
                t in pattern.ABBREVIATIONS
                or pattern.RE_ABBR1.match(t) is not None
                or pattern.RE_ABBR2.match(t) is not None
                or pattern.RE_ABBR3.match(t) is not None
            ):
                break
            tail.append(t[-1])
            t = t[:-1]
    if t != "":
        tokens.append(t)
    tokens.extend(reversed(tail))


_EDGES: dict[str, tuple[str, ...]] = {}  # token -> what `_split_edges` makes of it
MAX_EDGES = 100_000  # then it starts over: memory stays bounded whatever the texts


def _tokens(text: str) -> list[str]:
    if "'" in text or '"' in text or not text.isascii():  # else no replacement can match
        for a, b in _REPLACE.items():  # literal patterns: re.sub == str.replace
            text = text.replace(a, b)
        for a, b in _QUOTES:
            text = text.replace(a, b)
    tokens: list[str] = []
    for t in text.split():
        if t[0] in _LEADING or t[-1] in _TRAILING:
            # Tokens with punctuation repeat ("world.", "(1998)"): each is split once.
            split = _EDGES.get(t)
            if split is None:
                if len(_EDGES) >= MAX_EDGES:
                    _EDGES.clear()
                parts: list[str] = []
                _split_edges(t, parts)
                split = _EDGES[t] = tuple(parts)
            tokens += split
        else:
            tokens.append(t)
    return tokens


def polarity_subjectivity(text: str) -> tuple[float, float]:
    """Exactly TextBlob's (polarity, subjectivity) of `text`."""
    if not ("\n" in text or "END-OF-SENTENCE" in text) or _PARAGRAPH.search(text) is None:
        tokens = _tokens(text)
        joined = " ".join(tokens)
        if _REJOINED.search(joined) is None and not any(s in joined for s in _SARCASM):
            return _score(joined.lower().split())  # = each token lowered: no token has a space
    score = _textblob(text)  # the rare text where the shortcuts above do not hold
    return score[0], score[1]


def _score(words: Any) -> tuple[float, float]:
    """textblob._text.Sentiment.assessments + the averages, over a plain dict."""
    a: list[list[Any]] = []  # [polarity, subjectivity, intensity, negated]
    m = n = None
    for w in words:
        if m is None and n is None and w not in _ACTIVE:
            continue
        senses = _WORDS.get(w)
        if senses is not None:
            p, s, i = senses
            if m is None:
                a.append([p, s, i, False])
            else:
                last = a[-1]
                last[0] = max(-1.0, min(p * last[2], +1.0))
                last[1] = max(-1.0, min(s * last[2], +1.0))
                last[2] = i
            if n is not None:
                a[-1][2] = 1.0 / a[-1][2]
                a[-1][3] = True
            m = n = None
            if w in _MODIFYING:
                m = w
            if w in _NEGATIONS:
                n = w
            continue
        if w in _NEGATIONS:
            n = w
        elif n and len(w.strip("'")) > 1:
            n = None
        if n is not None and m is not None and m.endswith("ly"):
            a[-1][3] = True
            n = None
        elif m and len(w) > 2:
            m = None
        if w == "!" and a:
            a[-1][0] = max(-1.0, min(a[-1][0] * 1.25, +1.0))
        if w == "(!)":
            a.append([0.0, 1.0, 1.0, False])
        if w.isalpha() is False and len(w) <= 5 and w not in pattern.PUNCTUATION:
            face = _EMOTICONS.get(w)
            if face is not None:
                a.append([face, 1.0, 1.0, False])
    if not a:
        return 0.0, 0.0
    polarity = subjectivity = 0
    for p, s, _, negated in a:
        polarity += p * -0.5 if negated else p
        subjectivity += s
    return polarity / float(len(a)), subjectivity / float(len(a))
