"""Benchmark of the content index: recall on reformatted excerpts, false matches, latency, memory.

Prints one JSON object and writes it to ``benchmarks/results/content.json``::

    python benchmarks/content.py                 # 100,000 protected documents
    python benchmarks/content.py --docs 5000     # a quick look

Protected documents come from ``content_corpus.py`` (half English, half Chinese, 2-30 KB).
Excerpts of 300 characters and of 10 % of a document are cut at random offsets, reformatted
(paragraphs reordered, punctuation changed, white space and line breaks changed, case or
full-width forms changed) and embedded in unrelated real text to make a message of about 5 KB.
Unrelated real text is what this machine ships: READMEs, licences and documentation of the
installed Python packages and of ``/usr/share/doc``, and the Chinese translations of
``/usr/share/locale/zh_CN``. The same run compares winnowing with datasketch's MinHash LSH
Ensemble and MinHash LSH on a subset.
"""

from __future__ import annotations

import argparse
import gettext
import gzip
import hashlib
import json
import multiprocessing
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from content_corpus import document
from molehunt.content import fingerprint as fp
from molehunt.content.index import ContainmentIndex, MatchParams, ProtectedDocument

MESSAGE_CHARS = {"en": 5000, "zh": 1700}  # about 5 KB of UTF-8 either way


# -- unrelated real text ---------------------------------------------------------------------
def real_texts() -> dict[str, list[str]]:
    """Distinct real documents found on this machine, by language."""
    english: dict[str, str] = {}
    roots = [Path(p) for p in sys.path if p.endswith("site-packages")] + [Path("/usr/share/doc")]
    pattern = re.compile(r"(readme|license|licence|copying|copyright|changelog|news|authors|"
                         r"metadata|notice|\.md$|\.rst$|\.txt$)", re.IGNORECASE)
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or not pattern.search(path.name):
                continue
            try:
                raw = path.read_bytes()[:400_000]
                if path.suffix == ".gz":
                    raw = gzip.decompress(raw)[:400_000]
                text = raw.decode("utf-8")
            except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
                continue
            if len(text) >= 500:
                english.setdefault(hashlib.sha256(text.encode()).hexdigest(), text)
    chinese: dict[str, str] = {}
    for path in sorted(Path("/usr/share/locale").glob("zh_*/LC_MESSAGES/*.mo")):
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)
        except (OSError, UnicodeDecodeError, gettext.error):  # type: ignore[attr-defined]
            continue
        text = "\n".join(str(v) for v in catalog._catalog.values())  # type: ignore[attr-defined]
        if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 200:
            chinese.setdefault(hashlib.sha256(text.encode()).hexdigest(), text)
    return {"en": list(english.values()), "zh": list(chinese.values())}


def chunks(texts: list[str], size: int) -> list[str]:
    """Every text cut into pieces of ``size`` characters (the last piece of each kept if long)."""
    pieces = []
    for text in texts:
        for start in range(0, len(text), size):
            piece = text[start:start + size]
            if len(piece) >= size // 3:
                pieces.append(piece)
    return pieces


# -- excerpts ----------------------------------------------------------------------------------
_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def reformat(excerpt: str, language: str, rng: random.Random) -> str:
    """Reorder paragraphs, change punctuation, white space, line breaks and case."""
    paragraphs = [p for p in re.split(r"\n\s*\n", excerpt) if p.strip()]
    rng.shuffle(paragraphs)
    out = []
    for paragraph in paragraphs:
        if language == "zh":
            text = re.sub(r"[，。、；：]", lambda _: rng.choice(
                [",", ".", "，", "。", "；", " ", "", "、"]), paragraph)
            if rng.random() < 0.3:
                text = "".join(_FULL_WIDTH.get(c, c) for c in text)
            text = re.sub(r"\s+", "", text) if rng.random() < 0.5 else text
            width = rng.randrange(25, 45)
            text = "\n".join(text[i:i + width] for i in range(0, len(text), width))
        else:
            text = re.sub(r"[.,;:]", lambda _: rng.choice(
                [".", ",", ";", " -", "", "!", ":"]), paragraph)
            words = text.split()
            width = rng.randrange(50, 90)
            lines, line = [], ""
            for word in words:
                if len(line) + len(word) > width:
                    lines.append(line)
                    line = ""
                line += word + rng.choice(["  ", " ", " ", "\t"])
            lines.append(line)
            text = "\n".join(lines)
            text = rng.choice([str.lower, str.upper, str.title, str, str])(text)
        out.append(text)
    return rng.choice(["\n\n", "\n", "\n\n\n"]).join(out)


def excerpt_of(number: int, family: str, rng: random.Random) -> tuple[str, str, str]:
    """(doc_id, language, excerpt) of document ``number``: 300 characters or 10 %."""
    doc_id, language, text, _ = document(number)
    length = 300 if family == "300_chars" else max(1, len(text) // 10)
    start = rng.randrange(0, max(1, len(text) - length))
    return doc_id, language, text[start:start + length]


def message(excerpt: str, language: str, filler: list[str], rng: random.Random) -> str:
    """The reformatted excerpt embedded in unrelated real text, about 5 KB in all."""
    around = max(0, MESSAGE_CHARS[language] - len(excerpt))
    text = rng.choice(filler)
    before = rng.randrange(0, around + 1)
    return text[:before] + "\n\n" + excerpt + "\n\n" + text[before:around]


# -- building ----------------------------------------------------------------------------------
def _fingerprint_range(bounds: tuple[int, int]) -> list[tuple[ProtectedDocument, np.ndarray]]:
    out = []
    for number in range(*bounds):
        doc_id, language, text, sensitivity = document(number)
        out.append((ProtectedDocument(doc_id=doc_id, sensitivity=sensitivity, language=language,
                                      chars=len(text)), fp.fingerprints(text)))
    return out


def build(index: ContainmentIndex, docs: int, batch: int, workers: int) -> dict[str, float]:
    """Generate, fingerprint (``workers`` processes) and index ``docs`` documents."""
    started = time.perf_counter()
    step = 500
    ranges = [(a, min(docs, a + step)) for a in range(0, docs, step)]
    pending: list[tuple[ProtectedDocument, np.ndarray]] = []
    add_seconds = 0.0
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for part in pool.imap(_fingerprint_range, ranges):
            pending.extend(part)
            if len(pending) >= batch:
                t = time.perf_counter()
                index.add(pending)
                add_seconds += time.perf_counter() - t
                pending = []
    if pending:
        t = time.perf_counter()
        index.add(pending)
        add_seconds += time.perf_counter() - t
    elapsed = time.perf_counter() - started
    return {"seconds": round(elapsed, 1), "docs_per_second": round(docs / elapsed, 1),
            "seconds_in_index_add": round(add_seconds, 1), "workers": workers}


# -- measuring ---------------------------------------------------------------------------------
def measure_recall(match: object, docs: int, per_cell: int, filler: dict[str, list[str]],
                   seed: int) -> tuple[dict[str, object], list[str]]:
    """Recall per language and excerpt family; also the messages, for the latency figure."""
    rng = random.Random(seed)
    cells: dict[str, dict[str, int]] = {}
    messages = []
    wanted = {"en": 0, "zh": 1}
    for language, parity in wanted.items():
        for family in ("300_chars", "10_percent"):
            found = extra = 0
            for _ in range(per_cell):
                number = rng.randrange(parity, docs, 2)
                doc_id, _, excerpt = excerpt_of(number, family, rng)
                text = message(reformat(excerpt, language, rng), language, filler[language], rng)
                messages.append(text)
                ids = {m.doc_id for m in match(text)}  # type: ignore[operator]
                found += doc_id in ids
                extra += len(ids - {doc_id})
            cells[f"{language}.{family}"] = {"excerpts": per_cell, "found": found,
                                             "other_documents_reported": extra}
    result: dict[str, object] = {}
    for language in wanted:
        mine = [v for k, v in cells.items() if k.startswith(language)]
        result[f"recall_{language}"] = round(sum(c["found"] for c in mine)
                                             / sum(c["excerpts"] for c in mine), 4)
    for cell in cells.values():
        cell["recall"] = round(cell["found"] / cell["excerpts"], 4)  # type: ignore[assignment]
    result["by_cell"] = cells
    return result, messages


def measure_false_matches(match: object, unrelated: dict[str, list[str]]) -> dict[str, object]:
    """Share of unrelated real texts for which any protected document is reported."""
    result: dict[str, object] = {}
    for language, texts in unrelated.items():
        flagged = sum(1 for text in texts if match(text))  # type: ignore[operator]
        result[language] = {"texts": len(texts), "with_a_match": flagged,
                            "rate": round(flagged / max(1, len(texts)), 6)}
    total = sum(len(t) for t in unrelated.values())
    flagged_all = sum(r["with_a_match"] for r in result.values())  # type: ignore[index]
    result["rate"] = round(flagged_all / max(1, total), 6)
    return result


def measure_latency(match: object, messages: list[str]) -> dict[str, float]:
    """Milliseconds per 5 KB message (shingling and lookup), after one warm-up pass."""
    for text in messages[:200]:
        match(text)  # type: ignore[operator]
    times = []
    for text in messages:
        t = time.perf_counter()
        match(text)  # type: ignore[operator]
        times.append((time.perf_counter() - t) * 1000)
    return {"messages": len(times), "p50_ms": round(float(np.percentile(times, 50)), 3),
            "p99_ms": round(float(np.percentile(times, 99)), 3),
            "max_ms": round(max(times), 3)}


def measure_incremental(index: ContainmentIndex, docs: int) -> dict[str, object]:
    """Add, replace and remove one document and show that nothing else changed."""
    def digests() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(index.segments_dir.glob("*.npy"))}

    probes = [document(n) for n in range(0, min(docs, 40))]
    before_files = digests()
    before_matches = [[(m.doc_id, m.hits) for m in index.match_text(t)] for _, _, t, _ in probes]
    new_id, language, text, sensitivity = document(docs + 1)
    t = time.perf_counter()
    index.add([(ProtectedDocument(doc_id=new_id, sensitivity=sensitivity, language=language),
                fp.fingerprints(text))])
    add_ms = (time.perf_counter() - t) * 1000
    after_files = digests()
    unchanged = all(after_files.get(name) == digest for name, digest in before_files.items())
    after_matches = [[(m.doc_id, m.hits) for m in index.match_text(t)] for _, _, t, _ in probes]
    found_new = any(m.doc_id == new_id for m in index.match_text(text[1000:1400]))
    replacement = document(docs + 2)[2]
    index.add([(ProtectedDocument(doc_id=new_id, sensitivity=sensitivity),
                fp.fingerprints(replacement))])
    old_gone = not any(m.doc_id == new_id for m in index.match_text(text[1000:1400]))
    new_found = any(m.doc_id == new_id for m in index.match_text(replacement[1000:1400]))
    t = time.perf_counter()
    index.remove([new_id])
    remove_ms = (time.perf_counter() - t) * 1000
    removed = not any(m.doc_id == new_id for m in index.match_text(replacement[1000:1400]))
    return {
        "existing_segment_files": len(before_files),
        "existing_segment_files_unchanged_after_add": unchanged,
        "new_segment_files_written_by_add": len(set(after_files) - set(before_files)),
        "other_documents_matches_unchanged": before_matches == after_matches,
        "added_document_found": found_new,
        "replace_drops_old_text": old_gone, "replace_finds_new_text": new_found,
        "remove_drops_document": removed,
        "add_one_document_ms": round(add_ms, 1), "remove_one_document_ms": round(remove_ms, 1),
    }


def compare_minhash(subset: int, filler: dict[str, list[str]], unrelated: dict[str, list[str]],
                    per_cell: int, seed: int, params: MatchParams) -> dict[str, object]:
    """Winnowing vs datasketch's LSH Ensemble (containment) and MinHash LSH (Jaccard)."""
    from datasketch import MinHash, MinHashLSH, MinHashLSHEnsemble

    results: dict[str, object] = {"documents": subset}
    with tempfile.TemporaryDirectory() as folder:
        index = ContainmentIndex(Path(folder))
        built = build(index, subset, 5000, 2)
        index.load()
        recall, messages = measure_recall(lambda t: index.match_text(t, params), subset,
                                          per_cell, filler, seed)
        results["winnowing"] = {
            "build_docs_per_second": built["docs_per_second"], **recall,
            "false_match_rate": measure_false_matches(
                lambda t: index.match_text(t, params), unrelated)["rate"],
            "latency": measure_latency(lambda t: index.match_text(t, params), messages[:400]),
            "memory_bytes_per_document": round(index.memory_bytes() / subset)}

    def minhash(text: str) -> MinHash:
        hashes = fp.shingles(text).distinct() & np.uint64(0xFFFFFFFF)
        m = MinHash(num_perm=128)
        if len(hashes):
            a, b = m.permutations
            phv = (np.outer(hashes, a) + b) % np.uint64((1 << 61) - 1) & np.uint64(0xFFFFFFFF)
            m.hashvalues = np.minimum(phv.min(axis=0), m.hashvalues)
        return m

    started = time.perf_counter()
    sketches = []
    for number in range(subset):
        doc_id, _, text, _ = document(number)
        sketches.append((doc_id, minhash(text), len(fp.shingles(text).distinct())))
    sketch_seconds = time.perf_counter() - started
    for name, make in (
        ("lsh_ensemble_containment_0.05", lambda: MinHashLSHEnsemble(
            threshold=0.05, num_perm=128, num_part=16)),
        ("minhash_lsh_jaccard_0.05", lambda: MinHashLSH(threshold=0.05, num_perm=128)),
    ):
        lsh = make()
        t = time.perf_counter()
        if isinstance(lsh, MinHashLSHEnsemble):
            lsh.index(sketches)

            def query(text: str, lsh: MinHashLSHEnsemble = lsh) -> list[str]:
                m = minhash(text)
                return list(lsh.query(m, len(fp.shingles(text).distinct())))
        else:
            for doc_id, m, _ in sketches:
                lsh.insert(doc_id, m)

            def query(text: str, lsh: MinHashLSH = lsh) -> list[str]:
                return list(lsh.query(minhash(text)))
        build_seconds = time.perf_counter() - t + sketch_seconds

        class _Row:
            def __init__(self, doc_id: str) -> None:
                self.doc_id = doc_id

        def match(text: str, query: object = query) -> list[_Row]:
            return [_Row(d) for d in query(text)]  # type: ignore[operator]

        recall, messages = measure_recall(match, subset, per_cell, filler, seed)
        results[name] = {
            "build_docs_per_second": round(subset / build_seconds, 1), **recall,
            "false_match_rate": measure_false_matches(match, unrelated)["rate"],
            "latency": measure_latency(match, messages[:400]),
            "memory_bytes_per_document_sketch_only": 128 * 8}
    return results


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--per-cell", type=int, default=500,
                        help="excerpts per language and excerpt family")
    parser.add_argument("--compare-docs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "content.json")
    args = parser.parse_args()
    params = MatchParams()
    texts = real_texts()
    rng = random.Random(args.seed)
    unrelated = {"en": chunks(texts["en"], MESSAGE_CHARS["en"]),
                 "zh": chunks(texts["zh"], MESSAGE_CHARS["zh"])}
    filler = {lang: [t for t in pieces if len(t) >= MESSAGE_CHARS[lang] // 2]
              for lang, pieces in unrelated.items()}
    for pieces in filler.values():
        rng.shuffle(pieces)
    result: dict[str, object] = {
        "parameters": {"word_shingle": fp.WORD_SHINGLE, "cjk_shingle": fp.CJK_SHINGLE,
                       "window": fp.WINDOW, "min_hits": params.min_hits,
                       "max_postings": params.max_postings},
        "unrelated_real_texts": {k: len(v) for k, v in unrelated.items()},
    }
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as folder:
        index = ContainmentIndex(Path(folder) / "content")
        result["build"] = build(index, args.docs, 10_000, args.workers)
        index = ContainmentIndex(index.root).load()
        result["documents"] = len(index)
        result["postings"] = index.postings()
        result["index_bytes_per_document"] = round(index.memory_bytes() / len(index))
        recall, messages = measure_recall(lambda t: index.match_text(t, params), args.docs,
                                          args.per_cell, filler, args.seed)
        result["recall"] = recall
        result["false_matches"] = measure_false_matches(
            lambda t: index.match_text(t, params), unrelated)
        result["latency_5kb_message"] = measure_latency(
            lambda t: index.match_text(t, params), messages)
        result["incremental"] = measure_incremental(index, args.docs)
        result["rss_mib_after_queries"] = round(psutil.Process().memory_info().rss / 2**20)
    if args.compare_docs:
        result["comparison"] = compare_minhash(args.compare_docs, filler, unrelated,
                                               min(args.per_cell, 200), args.seed + 1, params)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")


def _iter(_: object) -> Iterator[int]:  # pragma: no cover - keeps the module importable
    yield 0


if __name__ == "__main__":
    main()
