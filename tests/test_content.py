"""Fingerprints, markings, the containment index and foreign markings."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from molehunt.content.fingerprint import (
    distinct_shingles_of_many,
    fingerprints,
    normalise,
    shingles,
    winnow,
)
from molehunt.content.foreign import find_foreign_markings
from molehunt.content.index import ContainmentIndex, MatchParams, ProtectedDocument
from molehunt.content.markings import (
    MARKING_RULES,
    ClassificationRules,
    MarkingRule,
    classify_text,
)
from molehunt.simulate.documents import document_text
from molehunt.simulate.vocabulary import FOREIGN_COMPANIES, MARKINGS, TOPICS


def _doc(number: int, language: str = "en") -> str:
    rng = random.Random(number)
    topic = sorted(TOPICS)[number % len(TOPICS)]
    return "\n".join(document_text(rng, f"Doc {number}", 2, topic, language) for _ in range(3))


# -- normalisation and shingles -------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_shingling_never_crashes_on_any_text(text: str) -> None:
    result = shingles(text)
    assert result.hashes.dtype == np.uint64
    assert len(result.hashes) <= max(0, result.tokens)
    assert len(winnow(result.hashes)) <= len(result.hashes)
    assert np.array_equal(fingerprints(text), fingerprints(text))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120) | st.sampled_from([
    "", "one two", "a b c d e f g h i", "x\ny z w v u t s",
    "正极浆料涂布厚度为四十五微米随后烘干"]), max_size=8))
def test_shingles_of_many_texts_are_each_texts_own(texts: list[str]) -> None:
    """No shingle runs from one text into the next, and each text keeps all of its own."""
    hashes, owners = distinct_shingles_of_many(texts)
    for position, text in enumerate(texts):
        assert np.array_equal(hashes[owners == position], shingles(text).distinct()), position
    assert len(owners) == 0 or bool((np.diff(owners) >= 0).all())


def test_reformatting_keeps_shingles() -> None:
    english = "The cathode slurry is coated at 45 um on copper foil, then dried at 120 C."
    reformatted = "THE  cathode\nslurry is coated;  at 45 um on copper foil then dried at 120 c"
    assert np.array_equal(shingles(english).distinct(), shingles(reformatted).distinct())
    chinese = "正极浆料涂布厚度为四十五微米，随后在一百二十度烘干。"
    wrapped = "正极浆料涂布厚\n度为四十五微米, 随后在一百二十度烘干."
    assert np.array_equal(shingles(chinese).distinct(), shingles(wrapped).distinct())
    assert normalise("ＣＡＴＨＯＤＥ") == "cathode"


# -- markings --------------------------------------------------------------------------------
def test_marking_table_is_plain_importable_data() -> None:
    assert all(isinstance(rule, MarkingRule) for rule in MARKING_RULES)
    assert {rule.language for rule in MARKING_RULES} == {"en", "zh"}
    assert {rule.sensitivity for rule in MARKING_RULES} == {0, 1, 2, 3, 4}


def test_simulator_markings_classify_in_both_languages() -> None:
    for level, (english, chinese) in MARKINGS.items():
        assert classify_text(f"{english}\nCell process\nbody\n{english}").sensitivity == level
        assert classify_text(f"{chinese}\n电芯工艺\n正文\n{chinese}").sensitivity == level


def test_highest_marking_wins_and_running_text_is_not_a_marking() -> None:
    assert classify_text("INTERNAL\nsee the TOP SECRET annex").sensitivity == 4
    assert classify_text("【内部】\n商业秘密").sensitivity == 3
    assert classify_text("我们的核心技术包括正极材料。").sensitivity is None
    assert classify_text("He kept the discussion confidential.").sensitivity is None
    found = classify_text("ＣＯＮＦＩＤＥＮＴＩＡＬ")  # full-width, as pasted from CJK documents
    assert found.sensitivity == 2


def test_rules_codenames_patterns_and_source_code() -> None:
    rules = ClassificationRules(codenames=(("ATLAS", 4), ("凤凰", 3)),
                                patterns=((r"(?i)\bcell recipe\b", 3),),
                                source_code_sensitivity=2)
    assert classify_text("Notes on project Atlas", rules).sensitivity == 4
    assert classify_text("凤凰项目进度", rules).projects == ("凤凰",)
    assert classify_text("the cell recipe v2", rules).sensitivity == 3
    code = "#include <stdio.h>\nint main(void) {\n  return 0;\n}\n"
    assert classify_text(code, rules).source_code
    assert classify_text("plain words", rules, filename="x.py").sensitivity == 2


# -- the index ---------------------------------------------------------------------------------
def _entry(doc_id: str, text: str, sensitivity: int = 3) -> tuple[ProtectedDocument, np.ndarray]:
    return ProtectedDocument(doc_id=doc_id, sensitivity=sensitivity), fingerprints(text)


def test_index_finds_excerpts_with_fraction(tmp_path: Path) -> None:
    index = ContainmentIndex(tmp_path / "content")
    index.add([_entry(f"D{i}", _doc(i, "zh" if i % 2 else "en")) for i in range(20)])
    text = _doc(4)
    half = text[: len(text) // 2]
    matches = index.match_text("Hello,\n" + half.replace("\n", " ") + "\nregards")
    assert matches[0].doc_id == "D4"
    assert 0.3 < matches[0].matched_fraction < 0.7
    assert matches[0].sensitivity == 3
    whole = index.match_text(_doc(7, "zh"))
    assert whole[0].doc_id == "D7" and whole[0].matched_fraction == 1.0
    assert index.match_text("Completely unrelated words about gardening and tomatoes.") == []


def test_matching_many_texts_at_once_finds_what_each_alone_finds(tmp_path: Path) -> None:
    index = ContainmentIndex(tmp_path / "content")
    index.add([_entry(f"D{i}", _doc(i, "zh" if i % 3 == 0 else "en"), i % 4) for i in range(12)])
    texts = [_doc(4)[:300], "", "gardening and tomatoes", _doc(4), _doc(9, "zh")[100:900],
             _doc(3, "zh") + _doc(5), "short", _doc(100)]
    alone = [index.match_text(text) for text in texts]
    assert index.match_many(texts) == alone
    assert [bool(found) for found in alone] == [True, False, False, True, True, True, False,
                                                False]
    assert {m.doc_id for m in alone[5]} >= {"D3", "D5"}
    assert index.match_many([]) == []


def test_incremental_add_remove_replace(tmp_path: Path) -> None:
    index = ContainmentIndex(tmp_path / "content")
    index.add([_entry(f"D{i}", _doc(i)) for i in range(10)])
    base = {p.name: p.read_bytes() for p in index.segments_dir.glob("*.npy")}
    index.add([_entry("NEW", _doc(100))])
    assert all((index.segments_dir / n).read_bytes() == b for n, b in base.items())
    assert index.match_text(_doc(100))[0].doc_id == "NEW"
    assert index.match_text(_doc(3))[0].doc_id == "D3"

    index.add([_entry("NEW", _doc(200), sensitivity=4)])  # replace
    assert all(m.doc_id != "NEW" for m in index.match_text(_doc(100)))
    assert index.match_text(_doc(200))[0].sensitivity == 4
    assert len(index) == 11

    assert index.remove(["NEW", "missing"]) == ["NEW"]
    assert all(m.doc_id != "NEW" for m in index.match_text(_doc(200)))
    reopened = ContainmentIndex(tmp_path / "content").load()
    assert len(reopened) == 10
    assert reopened.match_text(_doc(5))[0].doc_id == "D5"


def test_merging_keeps_answers_and_drops_dead_postings(tmp_path: Path) -> None:
    index = ContainmentIndex(tmp_path / "content")
    for i in range(12):  # more single-document batches than MAX_SEGMENTS
        index.add([_entry(f"D{i}", _doc(i))])
    assert len(index.segment_names()) <= 9
    before = index.postings()
    index.remove(["D0", "D1"])
    index.compact()
    assert len(index.segment_names()) == 1 and index.postings() < before
    assert [index.match_text(_doc(i))[0].doc_id for i in (2, 11)] == ["D2", "D11"]
    assert index.match_text(_doc(0)) == []


def test_boilerplate_shared_by_many_documents_is_ignored(tmp_path: Path) -> None:
    index = ContainmentIndex(tmp_path / "content")
    notice = ("This document and the information in it are the property of the company and may"
              " not be copied, disclosed to third parties or used for any purpose other than the"
              " one for which it was supplied without the prior written consent of the owner,"
              " who reserves all rights including those arising from patents and registrations.")
    index.add([_entry(f"D{i}", notice + _doc(i)) for i in range(6)])
    assert index.match_text(notice, MatchParams(max_postings=5)) == []
    assert len(index.match_text(notice, MatchParams(max_postings=64))) == 6


# -- foreign markings --------------------------------------------------------------------------
def test_foreign_markings_of_the_simulator_companies() -> None:
    for english, chinese in FOREIGN_COMPANIES:
        for level in (2, 3, 4):
            en = " ".join(f"{english} {MARKINGS[level][0]} {english} cathode".split())
            zh = " ".join(f"{chinese} {MARKINGS[level][1]} {chinese} 正极 工艺".split())
            for text, owner in ((en, english), (zh, chinese)):
                found = find_foreign_markings(text)
                assert found and found[0].owner == owner
                assert max(f.sensitivity for f in found) == level


def test_own_and_unowned_markings_are_not_foreign() -> None:
    assert find_foreign_markings("DTAA CONFIDENTIAL\nplan", own_names=("DTAA",)) == []
    assert find_foreign_markings("TOP SECRET - CORE TECHNOLOGY\n绝密 核心技术\n秘密 商业秘密") == []
    found = find_foreign_markings("keep it CONFIDENTIAL (Northwind Energy)",
                                  known_foreign=("Northwind Energy",))
    assert found[0].owner == "Northwind Energy" and found[0].known_company


def test_reading_creates_nothing_and_leftovers_are_cleaned(tmp_path: Path) -> None:
    index = ContainmentIndex(tmp_path / "content").load()
    assert index.match_text(_doc(1)) == [] and index.documents() == []
    assert not (tmp_path / "content").exists()
    index.add([_entry("D1", _doc(1))])
    stray = index.segments_dir / "00000000000000000001-deadbeef.hashes.npy.tmp"
    stray.write_bytes(b"half a segment")  # what a crash during a write leaves
    assert index.cleanup() == [stray]
    assert index.match_text(_doc(1))[0].doc_id == "D1"
