"""Text extraction from real PDF and DOCX files made here, in English and Chinese."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from molehunt.content.extract import extract_text
from molehunt.content.markings import classify_text
from molehunt.errors import ContentError

ENGLISH = ["TOP SECRET - CORE TECHNOLOGY", "Cathode calcination recipe",
           "Hold the kiln at 850 C for 12 hours under oxygen flow."]
CHINESE = ["绝密 核心技术", "正极煅烧工艺配方", "窑炉在八百五十度保温十二小时，氧气流量保持稳定。"]


def make_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF; Chinese lines use reportlab's built-in CID font (no font file needed)."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    page = canvas.Canvas(str(path))
    for number, line in enumerate(lines):
        ascii_only = all(ord(c) < 128 for c in line)
        page.setFont("Helvetica" if ascii_only else "STSong-Light", 11)
        page.drawString(72, 760 - 18 * number, line)
    page.save()
    return path


def make_docx(path: Path, lines: list[str], header: str | None = None) -> Path:
    """A DOCX with paragraphs, a table and optionally a header line (where markings live)."""
    document = docx.Document()
    if header:
        document.sections[0].header.paragraphs[0].text = header
    for line in lines:
        document.add_paragraph(line)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "parameter"
    table.rows[0].cells[1].text = "参数"
    document.save(str(path))
    return path


@pytest.mark.parametrize("lines,level,language", [(ENGLISH, 4, "en"), (CHINESE, 4, "zh")])
def test_pdf_text_and_marking(tmp_path: Path, lines: list[str], level: int,
                              language: str) -> None:
    extracted = extract_text(make_pdf(tmp_path / "spec.pdf", lines))
    assert extracted.kind == "pdf"
    for line in lines:
        assert line.replace(" ", "") in extracted.text.replace(" ", "")
    found = classify_text(extracted.text)
    assert (found.sensitivity, found.language) == (level, language)


def test_docx_body_table_and_header(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "recipe.docx", CHINESE[1:] + ENGLISH[1:], header="机密")
    extracted = extract_text(path)
    assert extracted.kind == "docx"
    assert "正极煅烧工艺配方" in extracted.text and "parameter\t参数" in extracted.text
    assert classify_text(extracted.text).sensitivity == 2  # the marking is only in the header


def test_text_encodings_and_source(tmp_path: Path) -> None:
    (tmp_path / "gb.txt").write_bytes("商业秘密\n电解液配方".encode("gb18030"))
    assert classify_text(extract_text(tmp_path / "gb.txt").text).sensitivity == 3
    (tmp_path / "bms.c").write_text("int soc(void) {\n  return 42;\n}\n", encoding="utf-8")
    assert extract_text(tmp_path / "bms.c").kind == "source"


@pytest.mark.parametrize("name,content,message", [
    ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", "PDF"),
    ("fake.pdf", b"this is not a pdf at all", "PDF"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "DOCX"),
    ("data.bin", b"\x00\x01", "unsupported file type '.bin'"),
    ("empty.txt", b"   \n", "no text"),
    ("binary.txt", bytes(range(256)) * 4, "not a text file"),
])
def test_bad_files_are_one_clear_error(tmp_path: Path, name: str, content: bytes,
                                       message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ContentError) as caught:
        extract_text(path)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="cannot read"):
        extract_text(tmp_path / "absent.md")
