"""Other companies' confidentiality markings: the sign of inbound contamination.

A newcomer who brings a former employer's documents ("Northwind Energy CONFIDENTIAL",
"北风能源 机密") exposes the new employer to legal risk. A *foreign marking* is a marking of
:data:`~molehunt.content.markings.MARKING_RULES` strength 2 or more (confidential and above)
that names an owner which is not one of the company's own names (``company_names`` in the
workspace settings): the owner is the run of capitalised words (English) or of Han characters
(Chinese) that begins the line and ends at the marking, or a known foreign company
(``foreign_companies``) anywhere next to the marking.
"""

# ruff: noqa: SIM905 - word lists read better as prose than as list literals
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from molehunt.content.markings import CONFIDENTIAL, compiled_markings

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_EN_OWNER = re.compile(
    r"(?:^|(?<=[.!?;:。！？；]\s)|(?<=[.!?;:。！？；]))[ \t\"'“(\[]*"
    r"(?P<owner>(?:[A-Z][\w&.'’-]*[ \t]+){0,5}[A-Z][\w&.'’-]*)[ \t]*[-–—:|·]?[ \t]*$")
_ZH_OWNER = re.compile(
    rf"(?:^|(?<=[。！？；\s]))[ \t【\[(（《]*(?P<owner>[{_HAN}A-Za-z0-9]{{2,24}}?)"
    rf"(?:有限公司|股份公司|公司)?[ \t]*[-–—:：|·]?[ \t】\])）》]*$")
#: Words of markings and of generic headers, never a company's name.
_NOT_NAMES = frozenset(
    "top secret trade core technology confidential strictly company highly internal use only "
    "public proprietary restricted classification classified sensitivity label document "
    "status level copy draft final notice warning page".split())
_NOT_NAMES_ZH = tuple("绝密 机密 秘密 商业秘密 核心技术 内部 公开 保密 文件 资料".split())


@dataclass(frozen=True)
class ForeignMarking:
    """A marking that names another company as the owner of the text."""

    owner: str
    marking: str
    sensitivity: int
    offset: int
    known_company: bool


def _is_own(owner: str, own_names: tuple[str, ...]) -> bool:
    folded = owner.casefold()
    return any(name.casefold() in folded or folded in name.casefold() for name in own_names
               if name.strip())


def _clean_owner(owner: str) -> str:
    words = owner.split()
    while words and words[0].strip(".-").casefold() in _NOT_NAMES:
        words.pop(0)
    while words and words[-1].strip(".-").casefold() in _NOT_NAMES:
        words.pop()
    if any(w.strip(".-").casefold() in _NOT_NAMES for w in words):
        return ""
    return " ".join(words)


def _clean_owner_zh(owner: str) -> str:
    changed = True
    while changed and owner:
        changed = False
        for word in _NOT_NAMES_ZH:
            if owner.endswith(word):
                owner, changed = owner[: -len(word)], True
            if owner.startswith(word):
                owner, changed = owner[len(word):], True
    return owner if len(owner) >= 2 else ""


def find_foreign_markings(text: str, own_names: tuple[str, ...] = (),
                          known_foreign: tuple[str, ...] = ()) -> list[ForeignMarking]:
    """Markings in ``text`` that name an owner other than the company itself.

    >>> [(f.owner, f.marking) for f in find_foreign_markings("Northwind Energy CONFIDENTIAL\\n")]
    [('Northwind Energy', 'CONFIDENTIAL')]
    >>> [(f.owner, f.sensitivity) for f in find_foreign_markings("北风能源 机密\\n正极工艺")]
    [('北风能源', 2)]
    >>> find_foreign_markings("TOP SECRET - CORE TECHNOLOGY\\nDTAA CONFIDENTIAL", ("DTAA",))
    []
    """
    text = unicodedata.normalize("NFKC", text)
    found: list[ForeignMarking] = []
    taken: list[tuple[int, int]] = []
    known = [(name, unicodedata.normalize("NFKC", name).casefold()) for name in known_foreign]
    for pattern, rule in compiled_markings():
        if rule.sensitivity < CONFIDENTIAL:
            continue
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            line_start = text.rfind("\n", 0, start) + 1
            before = text[max(line_start, start - 120):start]
            after = text[end:end + 80].split("\n", 1)[0]
            owner = ""
            owner_match = (_ZH_OWNER if rule.language == "zh" else _EN_OWNER).search(before)
            if owner_match:
                raw = owner_match.group("owner")
                owner = _clean_owner_zh(raw) if rule.language == "zh" else _clean_owner(raw)
            nearby = (before + " " + after).casefold()
            known_name = next((name for name, folded in known if folded in nearby), None)
            if known_name and not owner:
                owner = known_name
            if not owner or _is_own(owner, own_names):
                continue
            is_known = known_name is not None and (
                unicodedata.normalize("NFKC", known_name).casefold() in owner.casefold()
                or owner == known_name)
            found.append(ForeignMarking(owner, match.group(0), rule.sensitivity, start,
                                        is_known))
    return sorted(found, key=lambda f: f.offset)
