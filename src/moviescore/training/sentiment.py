"""TextBlob's sentiment of a text, computed the same way at a fraction of the cost.

`polarity_subjectivity(text)` returns exactly `textblob.en.sentiment(text)[:2]` (what
`TextBlob(text).sentiment` gives): the same lexicon (TextBlob's own en-sentiment.xml, read through
TextBlob), the same tokens and the same arithmetic, in the same order. It is faster because it
skips what cannot change the score: the sentence split (without paragraph breaks the token stream
is the same either way), the per-sentence expressions that re-join emoticons and sarcasm marks
(a text where one would apply is handed to TextBlob itself; whether one could is first asked of
the text, not its joined tokens), lookups through TextBlob's lazy dictionary, and the tokenizing
of a whitespace-separated token already seen (split and lowered once per process, in a bounded
cache). tests/test_sentiment.py checks equality on every overview and tagline of the shared data
and on texts built to reach each branch.
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


def _trie_pattern(words: set[str], gap: str = "") -> str:
    """One regular expression matching exactly `words` (with `gap` allowed between any two
    characters), nested by common prefix: the regex engine then follows one branch per
    character instead of trying every word in turn."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict[str, Any], lead: str) -> str:
        branches = [re.escape(ch) + emit(child, gap) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = lead + (branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")")
        return f"(?:{body})?" if "" in node else body

    return emit(trie, "")


_FACES = {f for faces in pattern.EMOTICONS.values() for f in faces}
# ... or, in the tokens joined by spaces, an emoticon or a sarcasm mark "(!)" that the split
# took apart: only then do TextBlob's re-joining expressions change the text. (Two searches: one
# alternation holding both is ten times slower.)
_REJOINED = re.compile(
    "(?:" + _trie_pattern({v for f in _FACES for v in _spaced(f)}) + r")(?:$|\s)"
)
# A token is a piece of the text, so such a mark's characters stand in the text in the same order
# with only white space, or the dots the split drops, between them. A text without one of these
# (almost every text) is scored without joining its tokens at all.
_MAYBE_REJOINED = re.compile(_trie_pattern(_FACES, gap=r"[\s.]*"))
_MAYBE_SARCASM = re.compile(r"\([\s.]*!|![\s.]*\)")
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


def _replaced(text: str) -> str:
    """TextBlob's contraction and quote replacements (a text without either is unchanged)."""
    if "'" in text or '"' in text or not text.isascii():  # else no replacement can match
        for a, b in _REPLACE.items():  # literal patterns: re.sub == str.replace
            text = text.replace(a, b)
        for a, b in _QUOTES:
            text = text.replace(a, b)
    return text


def _tokens(replaced: str) -> list[str]:
    """TextBlob's tokens of a `_replaced` text without a paragraph break."""
    tokens: list[str] = []
    for t in replaced.split():
        _split_edges(t, tokens)
    return tokens


def _rejoins(replaced: str) -> bool:
    """Whether TextBlob's expressions that re-join emoticons and "(!)" would change the tokens
    of a `_replaced` text; the tokens are joined and searched only when a cheap search of the
    text itself allows it."""
    if _MAYBE_REJOINED.search(replaced) is None and (
        "!" not in replaced or _MAYBE_SARCASM.search(replaced) is None
    ):
        return False
    joined = " ".join(_tokens(replaced))
    return _REJOINED.search(joined) is not None or any(s in joined for s in _SARCASM)


# Whitespace-separated tokens repeat across texts ("the", "world.", "(1998)"): each is split
# into TextBlob's tokens, lowered, once per process. _INACTIVE_RAW holds those without a word
# that can change the score, which a text skips unread while nothing is pending. The API's event
# loop and its batch threads share them unlocked: every entry is a fact about its token, so a
# write lost to a race (or to a clear) only costs splitting that token again.
_PARTS: dict[str, tuple[str, ...]] = {}
_INACTIVE_RAW: set[str] = set()
MAX_PARTS = 100_000  # tokens, then the cache starts over: memory stays bounded
MAX_PART_CHARS = 40  # longer tokens are split every time, so the bound holds in bytes too


def _parts(raw: str) -> tuple[str, ...]:
    """TextBlob's tokens of one whitespace-separated token, lowered (none has a space)."""
    pieces: list[str] = []
    _split_edges(raw, pieces)
    lowered = tuple(p.lower() for p in pieces)
    if len(raw) <= MAX_PART_CHARS:
        if len(_PARTS) >= MAX_PARTS:
            _PARTS.clear()
            _INACTIVE_RAW.clear()
        _PARTS[raw] = lowered
        if _ACTIVE.isdisjoint(lowered):
            _INACTIVE_RAW.add(raw)
    return lowered


def polarity_subjectivity(text: str) -> tuple[float, float]:
    """Exactly TextBlob's (polarity, subjectivity) of `text`."""
    paragraph = ("\n" in text or "END-OF-SENTENCE" in text) and _PARAGRAPH.search(text)
    if not paragraph:
        replaced = _replaced(text)
        if not _rejoins(replaced):
            return _score(replaced.split())
    score = _textblob(text)  # the rare text where the shortcuts above do not hold
    return score[0], score[1]


def _score(raw_tokens: list[str]) -> tuple[float, float]:
    """textblob._text.Sentiment.assessments + the averages, over a plain dict, on the text's
    whitespace-separated tokens (split into TextBlob's tokens by `_parts`)."""
    a: list[list[Any]] = []  # [polarity, subjectivity, intensity, negated]
    m = n = None
    for raw in raw_tokens:
        if m is None and n is None and raw in _INACTIVE_RAW:
            continue  # no word of it can change the score, and nothing is pending
        for w in _PARTS.get(raw) or _parts(raw):
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
