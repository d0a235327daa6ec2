"""Normalised text, shingles and winnowed fingerprints, all computed with numpy.

A text is normalised (Unicode NFKC, case folded) and cut into *tokens*: a run of letters and
digits is one token (an English word, a number, an identifier), and every CJK character (Han,
kana, Hangul syllable) is a token of its own, because Chinese has no spaces between words.
Punctuation and white space only separate tokens, so re-wrapping lines, changing punctuation or
case, or switching between full-width and half-width forms changes no token.

A *shingle* starts at every token: :data:`WORD_SHINGLE` tokens when it starts on a word,
:data:`CJK_SHINGLE` tokens when it starts on a CJK character (a Chinese character carries less
than an English word, so the shingle is longer). Each shingle is hashed to 64 bits.

*Winnowing* (Schleimer, Wilkerson and Aiken, SIGMOD 2003) keeps the smallest hash of every
window of :data:`WINDOW` consecutive shingle hashes. It guarantees that any passage shared by two
texts that is at least ``WINDOW + shingle - 1`` tokens long shares at least one kept hash, and it
keeps about ``2 / (WINDOW + 1)`` of the hashes, chosen by content, not by position, so an excerpt
keeps the same fingerprints wherever it is pasted.

Hashes are computed without a Python loop over tokens: polynomial hashes over prefix sums,
wrapping modulo 2**64 in numpy, then a SplitMix64 finaliser to spread the bits. They are the same
in every process and on every machine, so an index persisted today matches text tomorrow.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

#: Tokens per shingle starting on a word (English, numbers, identifiers).
WORD_SHINGLE = 7
#: Tokens per shingle starting on a CJK character.
CJK_SHINGLE = 12
#: Winnowing window, in shingles.
WINDOW = 16

_CHAR_BASE = np.uint64(0x100000001B3)
_TOKEN_BASE = np.uint64(0x9E3779B97F4A7C15)
_SEPARATOR, _WORD, _CJK = 0, 1, 2

U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Shingles:
    """The shingle hashes of one text, in text order."""

    hashes: U64
    tokens: int

    def winnowed(self, window: int = WINDOW) -> U64:
        """The distinct fingerprints winnowing keeps, sorted."""
        return winnow(self.hashes, window)

    def distinct(self) -> U64:
        """Every distinct shingle hash, sorted (what a query looks up)."""
        return np.unique(self.hashes)


def normalise(text: str) -> str:
    """Unicode NFKC and case folding: full-width forms, ligatures and case no longer differ.

    >>> normalise("ＴＯＰ　SECRET，Ⅳ")
    'top secret,iv'
    """
    return unicodedata.normalize("NFKC", text).casefold()


@cache
def _char_classes() -> npt.NDArray[np.uint8]:
    """Class of every code point of the Basic Multilingual Plane (built once, 64 KiB)."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for code in range(0x10000):
        char = chr(code)
        if _is_cjk(code):
            table[code] = _CJK
        elif char.isalnum():
            table[code] = _WORD
    return table


def _is_cjk(code: int) -> bool:
    return (0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF
            or 0x3040 <= code <= 0x30FF or 0xAC00 <= code <= 0xD7AF or 0x3005 <= code <= 0x3007)


def _mix(values: U64) -> U64:
    """SplitMix64's finaliser: every input bit affects every output bit."""
    z = values ^ (values >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    mixed: U64 = z ^ (z >> np.uint64(31))
    return mixed


def _powers(base: np.uint64, n: int) -> U64:
    powers = np.full(n, base, dtype=np.uint64)
    if n:
        powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)


def _span_hashes(values: U64, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64],
                 base: np.uint64) -> U64:
    """Polynomial hash of ``values[start:end]`` for every span, independent of its position."""
    n = len(values)
    powers = _powers(base, n + 1)
    inverse = np.uint64(pow(int(base), -1, 2**64))
    inverse_powers = _powers(inverse, n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(values * powers[:n], dtype=np.uint64, out=prefix[1:])
    return (prefix[ends] - prefix[starts]) * inverse_powers[starts]


def token_hashes(text: str) -> tuple[U64, npt.NDArray[np.bool_]]:
    """Hash of every token of the normalised ``text`` and whether the token is CJK.

    >>> hashes, cjk = token_hashes("Cell  yield: 良率")
    >>> len(hashes), cjk.tolist()
    (4, [False, False, True, True])
    """
    encoded = normalise(text).encode("utf-32-le", errors="replace")
    codes = np.frombuffer(encoded, dtype=np.uint32)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
    starts, ends, cjk = _token_spans(codes)
    return _mix(_span_hashes(codes.astype(np.uint64), starts, ends, _CHAR_BASE)), cjk


def _token_spans(codes: npt.NDArray[np.uint32]
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Start and end of every token of the code points ``codes``, in order, and whether the
    token is CJK."""
    table = _char_classes()
    classes = np.where(codes < 0x10000, table[np.minimum(codes, 0xFFFF)],
                       np.where((codes >= 0x20000) & (codes < 0x40000), _CJK, _SEPARATOR))
    word = classes == _WORD
    cjk = classes == _CJK
    previous = np.concatenate(([False], word[:-1]))
    following = np.concatenate((word[1:], [False]))
    word_starts = np.flatnonzero(word & ~previous)
    word_ends = np.flatnonzero(word & ~following) + 1
    cjk_at = np.flatnonzero(cjk)
    starts = np.concatenate((word_starts, cjk_at))
    ends = np.concatenate((word_ends, cjk_at + 1))
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    return starts.astype(np.int64), ends.astype(np.int64), cjk[starts]


def distinct_shingles_of_many(texts: Sequence[str]) -> tuple[U64, npt.NDArray[np.int64]]:
    """Every distinct shingle hash of each of ``texts``: ``(hashes, owners)``, sorted by owner
    (the text's position) and then hash.

    The same hashes as ``shingles(text).distinct()`` text by text, computed in one pass over
    all the texts: matching a day's mail one message at a time spent most of its time on
    numpy's per-call cost, not on hashing.

    >>> hashes, owners = distinct_shingles_of_many(["a b c d e f g h", "short", "a b c d e f g"])
    >>> owners.tolist()
    [0, 0, 2]
    >>> bool((hashes[owners == 2] == shingles("a b c d e f g").distinct()).all())
    True
    """
    normalised = [normalise(text) for text in texts]
    # one separator between texts: no token runs from one text into the next
    encoded = "\n".join(normalised).encode("utf-32-le", errors="replace")
    codes = np.frombuffer(encoded, dtype=np.uint32)
    lengths = np.fromiter((len(t) for t in normalised), dtype=np.int64, count=len(normalised))
    text_starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
    starts, ends, cjk = _token_spans(codes)
    token_owner = np.searchsorted(text_starts, starts, side="right") - 1
    tokens = _mix(_span_hashes(codes.astype(np.uint64), starts, ends, _CHAR_BASE))
    # a shingle stops at the end of its own text's tokens
    text_token_end = np.cumsum(np.bincount(token_owner, minlength=len(texts)))[token_owner]
    shingle_starts, hashes = _shingle_hashes(tokens, cjk, text_token_end)
    owners = token_owner[shingle_starts].astype(np.int64)
    order = np.lexsort((hashes, owners))
    hashes, owners = hashes[order], owners[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
    return hashes[first], owners[first]


def shingles(text: str) -> Shingles:
    """The shingle hashes of ``text`` (none when it has fewer tokens than one shingle).

    >>> s = shingles("the cathode slurry is coated at 45 um on copper foil")
    >>> s.tokens, len(s.hashes)
    (11, 5)
    """
    tokens, cjk = token_hashes(text)
    return Shingles(_shingle_hashes(tokens, cjk, len(tokens))[1], len(tokens))


def _shingle_hashes(tokens: U64, cjk: npt.NDArray[np.bool_], limit: int | npt.NDArray[np.int64]
                    ) -> tuple[npt.NDArray[np.int64], U64]:
    """The first token and the hash of every shingle that ends by ``limit`` (a token count, or
    one per token: the end of its own text), in token order."""
    starts = np.arange(len(tokens), dtype=np.int64)
    ends = starts + np.where(cjk, CJK_SHINGLE, WORD_SHINGLE)
    keep = ends <= limit
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return starts, np.zeros(0, dtype=np.uint64)
    return starts, _mix(_span_hashes(tokens, starts, ends, _TOKEN_BASE))


def winnow(hashes: U64, window: int = WINDOW) -> U64:
    """The distinct minima of every ``window`` consecutive hashes, sorted.

    >>> winnow(np.array([5, 3, 9, 4, 8, 1], dtype=np.uint64), 3).tolist()
    [1, 3, 4]
    """
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.uint64)
    if len(hashes) <= window:
        return np.array([hashes.min()], dtype=np.uint64)
    views = np.lib.stride_tricks.sliding_window_view(hashes, window)
    positions = np.arange(len(views)) + views.argmin(axis=1)
    return np.unique(hashes[positions])


def fingerprints(text: str, window: int = WINDOW) -> U64:
    """The winnowed fingerprints of ``text``: what the index stores for a protected document."""
    return shingles(text).winnowed(window)
