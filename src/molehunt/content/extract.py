"""Text out of the files people protect: plain text, Markdown, source code, PDF and DOCX.

PDF text comes from pypdf, DOCX text from python-docx (body paragraphs, tables, headers and
footers — markings are often printed only in the header). Every failure is a
:class:`~molehunt.errors.ContentError` that names the file, so one bad file is one clear line and
the other files of the run are still read.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

from molehunt.content.markings import SOURCE_EXTENSIONS
from molehunt.errors import ContentError

#: Extensions read as text (besides :data:`~molehunt.content.markings.SOURCE_EXTENSIONS`).
TEXT_EXTENSIONS = frozenset({".txt", ".text", ".md", ".markdown", ".rst", ".csv", ".tsv",
                             ".json", ".xml", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".log",
                             ".html", ".htm", ".tex"})
#: Every extension :func:`extract_text` reads.
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS | SOURCE_EXTENSIONS | {".pdf", ".docx"}
#: Files larger than this are refused (a protected document, not a disk image).
MAX_BYTES = 200 * 2**20


@dataclass(frozen=True)
class ExtractedText:
    """The text of one file and what kind of file it was (text, source, pdf or docx)."""

    text: str
    kind: str


def extract_text(path: Path) -> ExtractedText:
    """The text of ``path``; a :class:`ContentError` naming the file when it cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ContentError(f"unsupported file type {suffix or '(none)'!r}; supported: text,"
                           " Markdown, source code, PDF and DOCX", where=str(path))
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ContentError(f"cannot read: {error.strerror}", where=str(path)) from None
    if size > MAX_BYTES:
        raise ContentError(f"file is larger than {MAX_BYTES // 2**20} MiB", where=str(path))
    if suffix == ".pdf":
        text, kind = _pdf(path), "pdf"
    elif suffix == ".docx":
        text, kind = _docx(path), "docx"
    else:
        text = _decode(_read(path), path)
        kind = "source" if suffix in SOURCE_EXTENSIONS else "text"
    if not text.strip():
        raise ContentError("no text could be extracted (empty, or a scanned image without a"
                           " text layer)", where=str(path))
    return ExtractedText(text, kind)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ContentError(f"cannot read: {error.strerror}", where=str(path)) from None


def _decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030 (Chinese Windows)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise ContentError("not a text file (undecodable bytes)", where=str(path))


def _pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    # pypdf logs a warning for every repaired defect; the error below is what users need
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ContentError("PDF is encrypted with a password", where=str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except ContentError:
        raise
    except (PdfReadError, PyPdfError, OSError, ValueError, KeyError, TypeError,
            AttributeError, IndexError, RecursionError, NotImplementedError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ContentError(f"corrupt or unreadable PDF ({type(error).__name__}"
                           + (f": {message}" if message else "") + ")", where=str(path)) from None
    return "\n\n".join(pages)


def _docx(path: Path) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ContentError(f"corrupt or unreadable DOCX ({type(error).__name__})",
                           where=str(path)) from None
    parts: list[str] = []
    for section in document.sections:
        parts.extend(p.text for p in section.header.paragraphs)
    parts.extend(p.text for p in document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    for section in document.sections:
        parts.extend(p.text for p in section.footer.paragraphs)
    return "\n".join(parts)
