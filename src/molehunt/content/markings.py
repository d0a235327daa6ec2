"""Confidentiality markings and the rules that classify a text into sensitivity 0-4.

:data:`MARKING_RULES` is the one table of markings, in English and Chinese: a plain tuple of
:class:`MarkingRule` (regular expression, sensitivity, language) that other modules import as is,
for example to label events by the markings their content carries. The highest marking found
wins: a text marked both ``CONFIDENTIAL`` and ``TOP SECRET`` is sensitivity 4.

English markings count only when written in capitals (``CONFIDENTIAL``), as companies print
them; the same word in running text ("confidential discussions") is not a marking. Chinese
markings count only when no other Han character touches them (``机密`` on its own line, in
brackets or after a company name), so that ``核心技术`` inside a sentence is not a marking.

Besides markings, :func:`classify_text` applies the workspace's rules: project code names, regular
expressions with a sensitivity, and a floor for source code (see :class:`ClassificationRules`).
"""

# ruff: noqa: SIM905 - the file-extension list reads better as prose than as a list literal
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

#: Sensitivity levels, as in :data:`molehunt.schema.SENSITIVITY_LEVELS`.
PUBLIC, INTERNAL, CONFIDENTIAL, SECRET, CROWN_JEWEL = range(5)

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ALONE_BEFORE = rf"(?<![{_HAN}])"
_ALONE_AFTER = rf"(?![{_HAN}])"


@dataclass(frozen=True)
class MarkingRule:
    """One confidentiality marking: its regular expression, sensitivity and language."""

    pattern: str
    sensitivity: int
    language: str


def _zh(word: str, sensitivity: int, suffixes: str = "") -> MarkingRule:
    tail = f"(?:{suffixes})?" if suffixes else ""
    return MarkingRule(f"{_ALONE_BEFORE}{word}{tail}{_ALONE_AFTER}", sensitivity, "zh")


#: Every marking molehunt knows, strongest first. Patterns are Python regular expressions,
#: matched on NFKC-normalised text (full-width letters are plain letters by then).
MARKING_RULES: tuple[MarkingRule, ...] = (
    MarkingRule(r"\bTOP[ _-]?SECRET\b", CROWN_JEWEL, "en"),
    MarkingRule(r"\bCORE[ _-]TECHNOLOGY\b", CROWN_JEWEL, "en"),
    _zh("绝密", CROWN_JEWEL, "级|文件|资料"),
    _zh("核心技术", CROWN_JEWEL, "秘密|资料"),
    _zh("核心机密", CROWN_JEWEL),
    MarkingRule(r"\bTRADE[ _-]SECRETS?\b", SECRET, "en"),
    MarkingRule(r"(?<!TOP )(?<!TOP-)(?<!TOP_)\bSECRET\b", SECRET, "en"),
    _zh("商业秘密", SECRET),
    _zh("秘密", SECRET, "级|文件|资料"),
    MarkingRule(r"\b(?:STRICTLY |COMPANY |HIGHLY )?CONFIDENTIAL\b", CONFIDENTIAL, "en"),
    MarkingRule(r"(?i)\b(?:strictly|company|proprietary and) confidential\b", CONFIDENTIAL,
                "en"),
    _zh("机密", CONFIDENTIAL, "级|文件|资料"),
    _zh("保密", CONFIDENTIAL, "资料|文件"),
    MarkingRule(r"\bINTERNAL(?: USE)?(?: ONLY)?\b", INTERNAL, "en"),
    MarkingRule(r"(?i)\bfor internal use only\b", INTERNAL, "en"),
    _zh("内部", INTERNAL, "资料|文件|使用|公开"),
    MarkingRule(r"\bPUBLIC\b(?! LICEN[CS]E)", PUBLIC, "en"),
    _zh("公开", PUBLIC, "资料|文件"),
)

#: Sensitivity → the marking the simulator and the reports print for it, per language.
CANONICAL_MARKINGS: MappingProxyType[int, tuple[str, str]] = MappingProxyType({
    PUBLIC: ("PUBLIC", "公开"),
    INTERNAL: ("INTERNAL USE ONLY", "内部"),
    CONFIDENTIAL: ("CONFIDENTIAL", "机密"),
    SECRET: ("SECRET - TRADE SECRET", "秘密 商业秘密"),
    CROWN_JEWEL: ("TOP SECRET - CORE TECHNOLOGY", "绝密 核心技术"),
})

#: File extensions of program source code.
SOURCE_EXTENSIONS = frozenset(
    ".c .cc .cpp .cxx .h .hpp .cs .go .java .kt .js .jsx .ts .tsx .py .rb .rs .scala .sh .sql "
    ".swift .m .mm .php .pl .lua .r .v .sv .vhd .vhdl .tcl .asm .s .cmake .proto".split())
_CODE_LINE = re.compile(
    r"^\s*(?:#include\s*[<\"]|import\s+[\w.]+|from\s+[\w.]+\s+import\b|def\s+\w+\s*\(|"
    r"class\s+\w+[\s:({]|(?:public|private|protected|static)\s+[\w<>\[\]]+\s+\w+\s*\(|"
    r"func\s+\w+\s*\(|fn\s+\w+\s*\(|function\s+\w+\s*\(|module\s+\w+\s*[(#;]|"
    r"(?:const|let|var)\s+\w+\s*=|return\b[^.]*;\s*$|[}{]\s*$|\w+\s*\([^)]*\)\s*;\s*$|"
    r"(?:if|for|while)\s*\(.*\)\s*\{?\s*$|always\s*@)", re.MULTILINE)


@dataclass(frozen=True)
class ClassificationRules:
    """The workspace's own rules, on top of the markings (see :mod:`molehunt.config`).

    ``codenames`` pairs a project code name with the sensitivity of anything naming it;
    ``patterns`` pairs a regular expression with a sensitivity; source code is at least
    ``source_code_sensitivity``.
    """

    codenames: tuple[tuple[str, int], ...] = ()
    patterns: tuple[tuple[str, int], ...] = ()
    source_code_sensitivity: int = CONFIDENTIAL


@dataclass(frozen=True)
class Classification:
    """What the rules say about one text.

    ``sensitivity`` is the highest level any signal gives, or ``None`` when nothing matched;
    ``marking`` is the strongest marking as written; ``reasons`` says which signal gave what.
    """

    sensitivity: int | None
    marking: str | None
    language: str
    markings: tuple[str, ...]
    projects: tuple[str, ...]
    source_code: bool
    reasons: tuple[str, ...]


@cache
def compiled_markings() -> tuple[tuple[re.Pattern[str], MarkingRule], ...]:
    """:data:`MARKING_RULES` with each pattern compiled (once per process)."""
    return tuple((re.compile(rule.pattern), rule) for rule in MARKING_RULES)


def find_markings(text: str) -> list[tuple[str, int, int]]:
    """Every marking in ``text``: (text as written, sensitivity, offset), in text order.

    >>> [(m, s) for m, s, _ in find_markings("TOP SECRET - CORE TECHNOLOGY\\n正文\\n【机密】")]
    [('TOP SECRET', 4), ('CORE TECHNOLOGY', 4), ('机密', 2)]
    """
    import unicodedata

    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []
    for pattern, rule in compiled_markings():
        for match in pattern.finditer(text):
            start, end = match.span()
            # a weaker rule never re-reports a part of a stronger marking ("SECRET" of "TRADE
            # SECRET"), because the table lists stronger rules first
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append((match.group(0), rule.sensitivity, start))
    return sorted(found, key=lambda item: item[2])


def detect_language(text: str) -> str:
    """``zh`` when Han characters make up a fifth of the letters, else ``en``.

    >>> detect_language("电池管理 firmware"), detect_language("battery management")
    ('zh', 'en')
    """
    han = len(re.findall(f"[{_HAN}]", text[:20_000]))
    letters = len(re.findall(r"[A-Za-z]", text[:20_000]))
    return "zh" if han and han * 5 >= letters // 5 else "en"


def looks_like_source_code(text: str, filename: str | None = None) -> bool:
    """Whether the text is program source, by file extension or by its lines.

    >>> looks_like_source_code("def f(x):\\n    return x\\nclass A:\\n    pass\\n")
    True
    >>> looks_like_source_code("The furnace is held at 850 C for two hours.")
    False
    """
    if filename is not None:
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if suffix in SOURCE_EXTENSIONS:
            return True
    lines = [line for line in text[:50_000].splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    code_lines = len(_CODE_LINE.findall(text[:50_000]))
    return code_lines >= 2 and code_lines * 4 >= len(lines)


@cache
def _compiled_rules(rules: ClassificationRules
                    ) -> tuple[list[tuple[re.Pattern[str], str, int]],
                               list[tuple[re.Pattern[str], int]]]:
    names = [(re.compile(_codename_pattern(name)), name, level)
             for name, level in rules.codenames]
    patterns = [(re.compile(pattern), level) for pattern, level in rules.patterns]
    return names, patterns


def _codename_pattern(name: str) -> str:
    if re.search(f"[{_HAN}]", name):
        return re.escape(name)
    return rf"(?i)(?<![\w-]){re.escape(name)}(?![\w-])"


def classify_text(text: str, rules: ClassificationRules | None = None,
                  filename: str | None = None) -> Classification:
    """Classify a text by its markings and the workspace's rules; the highest level wins.

    >>> classify_text("INTERNAL USE ONLY\\nRoadmap\\nCONFIDENTIAL").sensitivity
    2
    >>> c = classify_text("绝密 核心技术\\n电芯工艺规格书")
    >>> c.sensitivity, c.language, c.marking
    (4, 'zh', '绝密')
    >>> classify_text("We had confidential talks.").sensitivity is None
    True
    """
    rules = rules or ClassificationRules()
    levels: list[int] = []
    reasons: list[str] = []
    markings = find_markings(text)
    strongest: tuple[str, int, int] | None = None
    for marking in markings:
        if strongest is None or marking[1] > strongest[1]:
            strongest = marking
    if strongest is not None:
        levels.append(strongest[1])
        reasons.append(f"marking {strongest[0]!r} → {strongest[1]}")
    names, patterns = _compiled_rules(rules)
    projects: list[str] = []
    for pattern, name, level in names:
        if pattern.search(text):
            projects.append(name)
            levels.append(level)
            reasons.append(f"code name {name!r} → {level}")
    for compiled, level in patterns:
        match = compiled.search(text)
        if match:
            levels.append(level)
            reasons.append(f"pattern {compiled.pattern!r} matched {match.group(0)!r} → {level}")
    source = looks_like_source_code(text, filename)
    if source:
        levels.append(rules.source_code_sensitivity)
        reasons.append(f"source code → {rules.source_code_sensitivity}")
    return Classification(
        sensitivity=max(levels) if levels else None,
        marking=strongest[0] if strongest else None,
        language=detect_language(text),
        markings=tuple(dict.fromkeys(m[0] for m in markings)),
        projects=tuple(projects),
        source_code=source,
        reasons=tuple(reasons),
    )
