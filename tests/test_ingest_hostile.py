"""Issue 20: ordinary bad input loses nothing silently (counting, line ends, encodings, times,
skipped input). Each test reproduces a failure seen at 7d28abf."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import events, ingest_cert, only_detectors, quarantine
from molehunt.sources import _lines
from molehunt.sources import ingest as ingest_module
from molehunt.sources.ingest import Ingestor
from molehunt.store.workspace import Workspace

_HEADERLESS_HTTP = "{{H{i}}},01/04/2010 09:{m:02d}:00,U{u},PC-{u},http://site{u}.example/p{i},words"


def _http_lines(n: int) -> list[str]:
    return [_HEADERLESS_HTTP.format(i=i, m=i % 60, u=i % 7) for i in range(n)]


def _folder(root: Path, name: str = "data") -> Path:
    folder = root / name
    folder.mkdir()
    return folder


# -- 1. count independently, commit only when it adds up ------------------------------------
def test_a_stray_quote_costs_its_own_line_only(workspace: Workspace, tmp_path: Path) -> None:
    """At 7d28abf a stray quote on line 1,001 dropped the rest of the file's chunk silently and
    quarantined line 1,000 (a valid, stored line)."""
    folder = _folder(tmp_path)
    lines = _http_lines(60_000)
    lines[1000] = lines[1000].replace(",words", ',"words')  # line 1,001: the quote never closes
    (folder / "http.csv").write_text("\n".join(lines) + "\n")
    summary = ingest_cert(workspace, folder)
    held = quarantine(workspace)
    assert [(r["line"], r["reason"]) for r in held] == [(1001, "malformed quoting")]
    assert held[0]["raw"] == lines[1000]
    assert len(events(workspace)) == 59_999
    (result,) = summary.files
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (60_000, 59_999, 1)


def test_a_row_failing_a_check_is_not_named_by_a_rejected_line_like_it(
        workspace: Workspace, tmp_path: Path) -> None:
    """Found by Hypothesis: a line whose date DuckDB could not read and a later line alike but
    for a readable date, both without a URL host, were both quarantined as line 2 (locating
    the second compares a date only as present or not)."""
    folder = _folder(tmp_path)
    (folder / "http.csv").write_text(
        "id,date,user,pc,url,activity,content\n"
        "{1},soon,ACM2278,PC-1,not a url,WWW Visit,x\n"
        "{1},01/02/2010 07:00:00,ACM2278,PC-1,not a url,WWW Visit,x\n")
    ingest_cert(workspace, folder)
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [
        (2, "unparseable date"), (3, "URL without host")]


def test_a_quote_closed_mid_field_then_one_left_open_costs_its_own_line(
        workspace: Workspace, tmp_path: Path) -> None:
    """A line that closes a quote before its field ends and then opens one that never closes
    was counted as a whole record, while the reader took the next line into the open field:
    the file failed with records unaccounted. Now the line is quarantined alone."""
    folder = _folder(tmp_path)
    lines = _http_lines(5)
    lines[2] = '"{H2}"x' + lines[2].removeprefix("{H2}").replace(",words", ',"')
    (folder / "http.csv").write_text("\n".join(lines) + "\n")
    (result,) = ingest_cert(workspace, folder).files
    assert result.status == "ingested", result.note
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [
        (3, "malformed quoting")]
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (5, 4, 1)


def test_rows_read_is_counted_not_summed(workspace: Workspace, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """When what was stored, found duplicate and quarantined does not add up to the records
    the independent reader counted, the file fails with one line and nothing is stored."""
    folder = _folder(tmp_path)
    (folder / "http.csv").write_text("\n".join(_http_lines(10)) + "\n")
    finish, normalise = _lines.Counter.finish, ingest_module.normalise

    def one_more(self: _lines.Counter) -> _lines.LineScan:
        scan = finish(self)
        scan.records += 1  # a record DuckDB would not have seen
        return scan

    def one_more_too(*args: Any, **kwargs: Any) -> _lines.LineScan:
        scan = normalise(*args, **kwargs)
        scan.records += 1  # the careful reader sees it too
        return scan

    monkeypatch.setattr(_lines.Counter, "finish", one_more)
    monkeypatch.setattr(ingest_module, "normalise", one_more_too)
    summary = ingest_cert(workspace, folder)
    (result,) = summary.files
    assert result.status == "failed"
    assert "11 records read but 10 accounted for" in result.note
    assert "+1 unaccounted" in result.note
    assert events(workspace) == [] and quarantine(workspace) == []


def test_a_truncated_gzip_keeps_what_decompressed(workspace: Workspace, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    packed = gzip.compress(("\n".join(_http_lines(5000)) + "\n").encode())
    (folder / "http.csv.gz").write_bytes(packed[: len(packed) * 2 // 3])
    summary = ingest_cert(workspace, folder)
    (result,) = summary.files
    stored = len(events(workspace))
    held = quarantine(workspace)
    assert 1000 < stored < 5000
    assert [r["reason"] for r in held] == ["truncated compressed file"]
    assert held[0]["line"] == stored + 1
    assert "breaks off" in result.note
    assert result.rows_read == stored + 1


# -- 2. line endings and encodings ----------------------------------------------------------
_LOGON = ["id,date,user,pc,activity", "{A},01/04/2010 07:00:00,U1,PC-1,Logon",
          "{B},01/04/2010 07:10:00,U1,PC-1,Logoff", "{C},01/04/2010 08:00:00,U1,PC-1,Logon",
          "{D},01/04/2010 09:00:00,U1,PC-1,Logoff"]


@pytest.mark.parametrize("ends", [
    ["\n", "\r\n", "\n", "\n", "\n"],  # one CRLF line in an LF file
    ["\r\n", "\n", "\n", "\n", "\n"],  # a CRLF header over an LF body
    ["\n", "\n", "\r", "\n", ""],  # a lone CR, and no break after the last line
    ["\r", "\r", "\r", "\r", "\r"],  # classic Mac
])
def test_mixed_line_ends_are_read(ends: list[str], workspace: Workspace, tmp_path: Path) -> None:
    """At 7d28abf these files were refused whole (exit 1) and the rest of the folder was not
    ingested."""
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text("".join(line + end for line, end in zip(_LOGON, ends,
                                                                                strict=True)),
                                      newline="")
    (folder / "email.csv").write_text(
        "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n"
        "{E1},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,x\n")
    ingest_cert(workspace, folder)
    assert [e["event_id"] for e in events(workspace)] == ["{A}", "{B}", "{C}", "{D}", "{E1}"]
    assert quarantine(workspace) == []


def test_a_declared_encoding_reads_gb18030(workspace: Workspace, tmp_path: Path) -> None:
    """At 7d28abf every row with Chinese text was quarantined as invalid UTF-8."""
    (workspace.root).mkdir(parents=True, exist_ok=True)
    (workspace.root / "molehunt.toml").write_text('[encodings]\n"email*.csv" = "gb18030"\n')
    folder = _folder(tmp_path)
    rows = ["id,date,user,pc,to,cc,bcc,from,size,attachments,content",
            "{E1},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,季度 凤凰 计划",
            "{E2},01/04/2010 07:05:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,ok"]
    data = "\n".join(rows).encode("gb18030") + b"\n"
    data += b"{E3},01/04/2010 07:06:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,\x81\xff\n"
    (folder / "email.csv").write_bytes(data)
    ingest_cert(workspace, folder)
    by_id = {e["event_id"]: e for e in events(workspace)}
    assert by_id["{E1}"]["content"] == "季度 凤凰 计划"
    assert set(by_id) == {"{E1}", "{E2}"}
    (held,) = quarantine(workspace)
    assert (held["line"], held["reason"]) == (4, "invalid gb18030")
    assert held["raw"].endswith("\\x81\\xff")


def test_byte_order_marks_are_recognised(workspace: Workspace, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    text = "\n".join(_LOGON) + "\n"
    (folder / "logon.csv").write_bytes(text.encode("utf-16"))
    (folder / "http.csv").write_bytes(b"\xef\xbb\xbf" + "\n".join(_http_lines(2)).encode())
    ingest_cert(workspace, folder)
    assert [e["event_id"] for e in events(workspace)] == ["{A}", "{B}", "{C}", "{D}", "{H0}",
                                                          "{H1}"]
    assert quarantine(workspace) == []


def test_an_unknown_encoding_is_a_setting_error(tmp_path: Path) -> None:
    from molehunt.config import Settings
    from molehunt.errors import ConfigError

    (tmp_path / "molehunt.toml").write_text('encoding = "klingon"\n')
    with pytest.raises(ConfigError, match="unknown encoding"):
        Settings.load(tmp_path)
    (tmp_path / "molehunt.toml").write_text("latest_event_days_ahead = 3000000\n")
    with pytest.raises(ConfigError, match="from 0 to 36500"):
        Settings.load(tmp_path)


def test_empty_lines_and_quoted_line_breaks_are_no_loss(workspace: Workspace,
                                                        tmp_path: Path) -> None:
    """The quick count takes every line for a record; the careful one settles the rest."""
    folder = _folder(tmp_path)
    (folder / "email.csv").write_text(
        "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n\n"
        '{E1},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,"two\n\nlines"\n'
        "\n{E2},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,x\n\n")
    (result,) = ingest_cert(workspace, folder).files
    assert [e["content"] for e in events(workspace)] == ["two\n\nlines", "x"]
    assert (result.rows_read, result.rows_stored) == (2, 2)


def test_ingest_csv_without_a_folder_still_counts(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "http.csv"
    path.write_text("\n".join(_http_lines(3)) + "\n\n")
    from molehunt.sources.base import load_sources

    with workspace.locked():
        result = Ingestor(workspace).ingest_csv(path, load_sources()["cert.http.r4"], False)
    assert (result.rows_read, result.rows_stored) == (3, 3)


# -- 3. time sanity ------------------------------------------------------------------------
def test_implausible_times_are_quarantined_with_a_reason(workspace: Workspace,
                                                         tmp_path: Path) -> None:
    """At 7d28abf ``01/02/10`` was stored as year 10 and a year-9999 row crashed ``run``."""
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text(
        "id,date,user,pc,activity\n"
        "{OK},01/04/2010 07:00:00,U1,PC-1,Logon\n"
        "{Y2},01/02/10 07:00:00,U1,PC-1,Logon\n"
        "{OLD},12/31/1989 23:59:59,U1,PC-1,Logon\n"
        "{FUT},01/05/2099 08:00:00,U1,PC-1,Logon\n"
        "{MAX},12/31/9999 23:59:59,U1,PC-1,Logon\n")
    (folder / "events.jsonl").write_text(
        '{"event_id": "J1", "ts": "2099-01-01T00:00:00", "user_id": "u1", "action": "print"}\n'
        '{"event_id": "J2", "ts": "2010-01-04T00:00:00", "user_id": "u1", "action": "print"}\n')
    ingest_cert(workspace, folder)
    assert [e["event_id"] for e in events(workspace)] == ["J2", "{OK}"]
    assert [(Path(r["file"]).name, r["line"], r["reason"]) for r in quarantine(workspace)] == [
        ("events.jsonl", 1, "implausible time"),
        ("logon.csv", 3, "two-digit year"),
        ("logon.csv", 4, "implausible time"),
        ("logon.csv", 5, "implausible time"),
        ("logon.csv", 6, "implausible time"),
    ]
    assert "outside the plausible window 1990-01-01" in quarantine(workspace)[2]["detail"]


def test_the_plausible_window_is_a_setting(workspace: Workspace, tmp_path: Path) -> None:
    workspace.root.mkdir(parents=True, exist_ok=True)
    (workspace.root / "molehunt.toml").write_text("earliest_event = 2010-01-05\n"
                                                  "latest_event_days_ahead = 36500\n")
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text("id,date,user,pc,activity\n"
                                      "{A},01/04/2010 07:00:00,U1,PC-1,Logon\n"
                                      "{B},01/05/2099 07:00:00,U1,PC-1,Logon\n")
    ingest_cert(workspace, folder)
    assert [e["event_id"] for e in events(workspace)] == ["{B}"]
    assert [r["reason"] for r in quarantine(workspace)] == ["implausible time"]


def test_a_future_dated_row_does_not_stop_scoring(workspace: Workspace, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """At 7d28abf one stored row dated 2099 made every later run say "no new days to score",
    and a year-9999 row crashed ``run`` (OverflowError). Ingest refuses such rows now; a store
    that holds them from before must still go on."""
    from molehunt.pipeline import run_detection

    monkeypatch.setattr(ingest_module, "plausible_window",
                        lambda settings, now=None: ("1990-01-01 00:00:00", "9999-12-31 23:59:59"))
    only_detectors(workspace.root, "after_hours_leaker")  # which days a run scores, not what

    def logons(name: str, days: range, extra: str = "") -> Path:
        folder = _folder(tmp_path, name)
        rows = [f"{{L{d}-{u}}},01/{d:02d}/2010 08:00:00,U{u},PC-{u},Logon"
                for d in days for u in range(5)]
        (folder / "logon.csv").write_text("id,date,user,pc,activity\n" + "\n".join(rows)
                                          + "\n" + extra)
        return folder

    ingest_cert(workspace, logons("a", range(4, 9), "{F},01/05/2099 08:00:00,U1,PC-1,Logon\n"
                                                    "{G},12/31/9999 23:00:00,U2,PC-2,Logon\n"))
    with workspace.locked():
        first = run_detection(workspace)
    assert (str(first.start), str(first.end)) == ("2010-01-04", "2010-01-08")
    ingest_cert(workspace, logons("b", range(11, 14)))
    with workspace.locked():
        second = run_detection(workspace)
    assert (str(second.start), str(second.end)) == ("2010-01-09", "2010-01-13")


# -- 6. never skip silently ----------------------------------------------------------------
_ONE_LOGON = "id,date,user,pc,activity\n{A},01/04/2010 07:00:00,U1,PC-1,Logon\n"


def test_an_unreadable_folder_is_named(workspace: Workspace, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text(_ONE_LOGON)
    locked = folder / "2011"
    locked.mkdir()
    (locked / "device.csv").write_text("id,date,user,pc,activity\n")
    locked.chmod(0)
    try:
        if os.geteuid() != 0:
            summary = ingest_cert(workspace, folder)
            assert summary.skipped == [(str(locked), "cannot read folder: Permission denied")]
            return
        # root reads a chmod 000 folder anyway: the ingest runs with the capabilities that
        # let it do so dropped, as any other account would
        if not shutil.which("setpriv"):
            pytest.skip("root without setpriv cannot be held to a folder's mode")
        done = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
             sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace.root),
             "ingest", "cert", str(folder)], capture_output=True, text=True, timeout=600,
            env={**os.environ, "COLUMNS": "300"})
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert f"skipped {locked}: cannot read folder: Permission denied" in " ".join(
        done.stderr.split())
    assert [e["event_id"] for e in events(workspace)] == ["{A}"]


def test_unreadable_folders_are_named_even_as_root(workspace: Workspace, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """As :func:`test_an_unreadable_folder_is_named`, with the refusal simulated (root can
    read a chmod 000 folder; at 7d28abf ``rglob`` passed over it without a word)."""
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text(_ONE_LOGON)
    locked = folder / "2011"
    locked.mkdir()
    scandir = os.scandir

    def refuse(path: Any) -> Any:
        if isinstance(path, str | os.PathLike) and Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(ingest_module.os, "scandir", refuse)
    summary = ingest_cert(workspace, folder)
    assert summary.skipped == [(str(locked), "cannot read folder: Permission denied")]
    assert [e["event_id"] for e in events(workspace)] == ["{A}"]


def test_a_linked_folder_a_fifo_and_an_empty_file_are_named(workspace: Workspace,
                                                            tmp_path: Path) -> None:
    """At 7d28abf a linked folder was passed over, a FIFO named logon.csv hung the ingest and
    one empty file aborted the whole folder."""
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text(_ONE_LOGON)
    elsewhere = _folder(tmp_path, "elsewhere")
    (elsewhere / "device.csv").write_text("id,date,user,pc,activity\n")
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    os.mkfifo(folder / "http.csv")
    (folder / "email.csv").write_text("")
    (folder / "file.csv.gz").write_bytes(gzip.compress(b"\n\n"))
    summary = ingest_cert(workspace, folder)
    reasons = {Path(p).name: r for p, r in summary.skipped}
    assert reasons == {
        "email.csv": "empty file (no line holds anything)",
        "file.csv.gz": "empty file (no line holds anything)",
        "http.csv": "not a regular file (a FIFO); refused without reading",
        "linked": "linked folder, not followed (ingest the folder it links to by its own path)",
    }
    assert [e["event_id"] for e in events(workspace)] == ["{A}"]


def test_a_fifo_given_by_name_is_refused_at_once(workspace: Workspace, tmp_path: Path) -> None:
    from molehunt.errors import SourceError

    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    with workspace.locked(), pytest.raises(SourceError, match="not a regular file"):
        Ingestor(workspace).ingest_jsonl([fifo])


def test_strict_fails_on_any_skip(tmp_path: Path) -> None:
    """At 7d28abf ``--skip-unknown --strict`` exited 0 after skipping a whole file."""
    from typer.testing import CliRunner

    from molehunt.cli import app

    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text(_ONE_LOGON)
    (folder / "http.csv").write_text("not,a,cert,row\n" + "\n".join(_http_lines(3)) + "\n")
    runner = CliRunner()
    base = ["--workspace", str(tmp_path / "ws"), "ingest", "cert", str(folder), "--skip-unknown"]
    lenient = runner.invoke(app, base)
    assert lenient.exit_code == 0, lenient.output
    assert "skipped" in lenient.output
    strict = runner.invoke(app, ["--workspace", str(tmp_path / "ws2"), *base[2:], "--strict"])
    assert strict.exit_code == 3, strict.output
    assert "were not read" in strict.output


def _events_jsonl(folder: Path, name: str, *objects: str) -> Path:
    path = folder / name
    path.write_text("".join(o + "\n" for o in objects))
    return path


def test_a_reused_event_id_with_other_content_is_reported(workspace: Workspace,
                                                          tmp_path: Path) -> None:
    """At 7d28abf rows reusing a stored event id with other content were dropped as plain
    duplicates without a word."""
    folder = _folder(tmp_path)
    first = _events_jsonl(folder, "a.jsonl",
                          '{"event_id": "X", "ts": "2010-01-04T08:00:00", "user_id": "u1",'
                          ' "action": "print"}')
    again = _events_jsonl(folder, "b.jsonl",
                          '{"event_id": "X", "ts": "2010-01-04T08:00:00", "user_id": "u1",'
                          ' "action": "print"}',
                          '{"event_id": "X", "ts": "2010-01-05T09:00:00", "user_id": "u2",'
                          ' "action": "print"}')
    with workspace.locked():
        Ingestor(workspace).ingest_jsonl([first])
        (result,) = Ingestor(workspace).ingest_jsonl([again]).files
    assert (result.rows_read, result.rows_stored, result.rows_duplicate) == (2, 0, 2)
    assert result.rows_conflicting == 1
    assert "1 repeated event ids with other content" in result.note
    assert quarantine(workspace) == []


def test_strict_quarantines_a_reused_event_id(workspace: Workspace, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text(
        "id,date,user,pc,activity\n{A},01/04/2010 07:00:00,U1,PC-1,Logon\n"
        "{A},01/04/2010 07:00:00,U1,PC-1,Logon\n{A},01/05/2010 07:00:00,U2,PC-2,Logoff\n")
    with workspace.locked():
        (result,) = Ingestor(workspace, strict=True).ingest_cert(folder).files
    assert (result.rows_read, result.rows_stored, result.rows_duplicate,
            result.rows_quarantined) == (3, 1, 1, 1)
    (held,) = quarantine(workspace)
    assert held["reason"] == "conflicting duplicate event id"
    assert held["detail"] == "event id {A} is earlier in this file with other content"
    assert '"user_id":"U2"' in held["raw"]


def test_a_bad_row_after_an_empty_line_is_named_by_its_own_line(workspace: Workspace,
                                                               tmp_path: Path) -> None:
    """Found by the damage property test: DuckDB's offset for a rejected row after an empty
    line was matched to the empty line."""
    folder = _folder(tmp_path)
    (folder / "logon.csv").write_text(_ONE_LOGON + "\n{")
    ingest_cert(workspace, folder)
    assert [(r["line"], r["raw"]) for r in quarantine(workspace)] == [(4, "{")]


def test_cli_names_a_file_that_does_not_add_up_and_goes_on(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from typer.testing import CliRunner

    from molehunt.cli import app

    folder = _folder(tmp_path)
    (folder / "http.csv").write_text("\n".join(_http_lines(10)) + "\n")
    (folder / "logon.csv").write_text(_ONE_LOGON)
    finish, normalise = _lines.Counter.finish, ingest_module.normalise
    wanted = folder / "http.csv"

    def one_more(self: _lines.Counter) -> _lines.LineScan:
        scan = finish(self)
        scan.records += int(self._has_header is False)  # only the header-less http.csv
        return scan

    def one_more_too(path: Path, *args: Any, **kwargs: Any) -> _lines.LineScan:
        scan = normalise(path, *args, **kwargs)
        scan.records += int(path == wanted)
        return scan

    monkeypatch.setattr(_lines.Counter, "finish", one_more)
    monkeypatch.setattr(ingest_module, "normalise", one_more_too)
    done = CliRunner().invoke(app, ["--workspace", str(tmp_path / "ws"), "ingest", "cert",
                                    str(folder)])
    assert done.exit_code == 1, done.output
    assert "+1 unaccounted; nothing of this file was stored" in done.output
    assert "logon.csv" in done.output  # the rest of the folder was ingested
