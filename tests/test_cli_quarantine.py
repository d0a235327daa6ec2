"""`molehunt quarantine list|show|export`, a fixed file superseding its old quarantine, and
disk-full, read-only and permission errors as one classified line (through the CLI)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from conftest import copy_fixture
from test_cli import _molehunt


def _ingested(tmp_path: Path) -> tuple[Path, Path]:
    folder = copy_fixture("cert_r4", tmp_path)
    workspace = tmp_path / "ws"
    done = _molehunt("ingest", "cert", str(folder), workspace=workspace)
    assert done.returncode == 0, done.stderr
    return folder, workspace


def test_list_show_and_filters(tmp_path: Path) -> None:
    folder, workspace = _ingested(tmp_path)
    listed = _molehunt("quarantine", "list", "--json", workspace=workspace)
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert report["quarantined_total"] == 13  # as `status` counts it
    logon = str((folder / "logon.csv").resolve())
    assert {"file": logon, "reason": "wrong field count", "rows": 2} in report[
        "by_file_and_reason"]
    table = _molehunt("quarantine", "list", "--reason", "Wrong", workspace=workspace)
    assert table.returncode == 0 and "wrong field count" in table.stdout
    assert "unknown activity" not in table.stdout

    shown = _molehunt("quarantine", "show", "--file", "logon.csv", "--reason",
                      "wrong field count", workspace=workspace)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        f"{logon}:7: wrong field count (Expected Number of Columns: 5 Found: 4)",
        "    {L6},01/05/2010 08:00:00,DKF0004,PC-0003",
        f"{logon}:9: wrong field count (Expected Number of Columns: 5 Found: 6)",
        "    {L8},01/05/2010 09:00:00,DKF0004,PC-0003,Logon,extra",
    ]
    # a reason's start selects its variants; --limit and --offset page
    first = _molehunt("quarantine", "show", "--reason", "truncated last line", "--limit", "1",
                      workspace=workspace)
    assert first.returncode == 0 and len(first.stdout.splitlines()) == 2
    assert "rows 1 to 1 of 2; more with --offset 1" in first.stderr
    second = _molehunt("quarantine", "show", "--reason", "truncated last line", "--limit", "1",
                       "--offset", "1", workspace=workspace)
    assert second.stdout != first.stdout and "truncated last line" in second.stdout
    none = _molehunt("quarantine", "list", "--file", "nowhere.csv", workspace=workspace)
    assert none.returncode == 0 and "empty (for this selection)" in none.stdout
    missing = _molehunt("quarantine", "list", workspace=tmp_path / "nothing")
    assert missing.returncode == 1 and "no workspace here" in missing.stderr


def test_show_escapes_control_characters(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "logon.csv").write_bytes(
        b"id,date,user,pc,activity\n{L1},01/04/2010 07:12:00,AGR0002,PC-0001,Logon\n"
        b"{L2},01/04/2010 07:13:00,AGR0002,\x1b[2J\x1b]0;pwned\x07,Logon,x\n")
    done = _molehunt("ingest", "cert", str(folder), workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    shown = _molehunt("quarantine", "show", workspace=tmp_path / "ws")
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "AGR0002,\\x1b[2J\\x1b]0;pwned\\x07,Logon,x" in shown.stdout
    # a long raw text is cut on the terminal and kept whole in the export
    (folder / "http.csv").write_text("id,date,user,pc,url,content\n{H1},01/04/2010 07:12:00,"
                                     "AGR0002,PC-0001,http://a.example/" + "x" * 5000 + "\n")
    assert _molehunt("ingest", "cert", str(folder), workspace=tmp_path / "ws").returncode == 0
    long = _molehunt("quarantine", "show", "--file", "http.csv", workspace=tmp_path / "ws")
    assert "… (+3,0" in long.stdout and "characters; `quarantine export` has them all" in (
        long.stdout)
    assert max(len(line) for line in long.stdout.splitlines()) < 2200


def test_export_csv_is_formula_safe_and_jsonl_is_raw(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "logon.csv").write_text(
        "id,date,user,pc,activity\n{L1},01/04/2010 07:12:00,AGR0002,PC-0001,Logon\n"
        '=HYPERLINK("http://evil.example"),01/04/2010 07:13:00,AGR0002,PC-0001\n'
        "+1,01/04/2010 07:14:00,AGR0002,PC-0001,Logon,x\n"
        "@SUM(A1),01/04/2010 07:15:00,AGR0002,PC-0001,Logon,x\n"
        "-2,01/04/2010 07:16:00,AGR0002,PC-0001,Logon,x\n"
        "\t3,01/04/2010 07:17:00,AGR0002,PC-0001,Logon,x\n")
    workspace = tmp_path / "ws"
    done = _molehunt("ingest", "cert", str(folder), workspace=workspace)
    assert done.returncode == 0, done.stderr
    out_csv = tmp_path / "out" / "q.csv"
    exported = _molehunt("quarantine", "export", "--out", str(out_csv), workspace=workspace)
    assert exported.returncode == 0, exported.stderr
    assert "wrote 5 quarantined rows" in exported.stderr
    with out_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["raw"][:2] for r in rows] == ["'=", "'+", "'@", "'-", "'\t"]
    assert all(r["reason"] == "wrong field count" and r["line"] for r in rows)
    assert not list(out_csv.parent.glob(".*partial"))

    out_jsonl = tmp_path / "q.jsonl"
    exported = _molehunt("quarantine", "export", "--out", str(out_jsonl), "--reason", "wrong",
                         workspace=workspace)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in out_jsonl.read_text("utf-8").splitlines()]
    assert lines[0]["raw"].startswith('=HYPERLINK("http://evil.example")')  # as it was
    assert lines[0]["line"] == 3 and set(lines[0]) == {
        "file", "line", "layout", "reason", "detail", "raw", "batch_id"}
    forced = _molehunt("quarantine", "export", "--out", str(tmp_path / "q.txt"), "--format",
                       "csv", workspace=workspace)
    assert forced.returncode == 0 and (tmp_path / "q.txt").read_text().startswith("file,line")
    unknown = _molehunt("quarantine", "export", "--out", str(tmp_path / "q.xlsx"),
                        workspace=workspace)
    assert unknown.returncode == 1 and "name it .csv or .jsonl" in unknown.stderr


def test_a_fixed_file_supersedes_its_quarantine(tmp_path: Path) -> None:
    folder, workspace = _ingested(tmp_path)
    logon = folder / "logon.csv"
    lines = logon.read_text("utf-8", errors="surrogateescape").splitlines()
    # fix every bad line but one: the fixed rows are stored, the one still bad stays
    fixed = [line for line in lines if not line.startswith(("{L4}", "{L5}", "{L7}", "{L8}",
                                                              "{L10}", "{L11}"))]
    fixed += ["{L4},01/05/2010 08:00:00,DKF0004,PC-0003,Logon",
              "{L6b},01/05/2010 08:00:00,DKF0004,PC-0003",
              "{L11},01/06/2010 18:00:00,CEL0561,PC-0004,Logoff"]
    logon.write_text("\n".join(fixed) + "\n", "utf-8")
    again = _molehunt("ingest", "cert", str(folder), workspace=workspace)
    assert again.returncode == 0, again.stderr
    assert (f"note: {logon}: supersedes the quarantine of this file's earlier ingest (7 rows,"
            " batch ") in again.stderr
    assert again.stderr.count("supersedes the quarantine") == 1  # the only file read again
    report = json.loads(_molehunt("quarantine", "list", "--json", "--file", "logon.csv",
                                  workspace=workspace).stdout)
    assert report["by_file_and_reason"] == [
        {"file": str(logon.resolve()), "reason": "wrong field count", "rows": 2}]
    shown = _molehunt("quarantine", "show", "--file", "logon.csv", workspace=workspace)
    assert "{L6}," in shown.stdout and "{L6b}," in shown.stdout and "{L8}" not in shown.stdout
    status = json.loads(_molehunt("status", "--json", workspace=workspace).stdout)
    assert status["quarantined_total"] == 13 - 7 + 2  # the other files keep theirs
    assert status["events_by_source"]["cert.logon"] == 4 + 2  # L4 and L11 now stored
    history = json.loads(_molehunt("quarantine", "list", "--json", "--file", "logon.csv",
                                   "--include-superseded", workspace=workspace).stdout)
    assert history["quarantined_total"] == 7 + 2
    # another path is another file
    copy = folder / "more" / "logon.csv"
    copy.parent.mkdir()
    copy.write_text("\n".join([*lines[:2], "{L99},01/07/2010 08:00:00,X,PC-1"]) + "\n",
                    "utf-8")
    _molehunt("ingest", "cert", str(folder), workspace=workspace)
    report = json.loads(_molehunt("quarantine", "list", "--json", "--file", "logon.csv",
                                  workspace=workspace).stdout)
    assert report["quarantined_total"] == 2 + 1


def _with_failure(workspace: Path, patch: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point with one function patched to fail as the OS would."""
    script = (
        "import errno, sys, duckdb, sqlite3\n"
        "import molehunt.cli\n"
        f"{patch}\n"
        f"sys.argv = ['molehunt', '--workspace', {str(workspace)!r}, *{list(args)!r}]\n"
        "molehunt.cli.main()\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)


def test_disk_full_read_only_and_permission_are_one_classified_line(tmp_path: Path) -> None:
    folder = copy_fixture("cert_r6", tmp_path)
    workspace = tmp_path / "ws"
    cases = [
        ("import molehunt.store.workspace as w\n"
         "def full(self, batch):\n"
         "    raise OSError(errno.ENOSPC, 'No space left on device',"
         " str(batch.staging / 'quarantine.parquet'))\n"
         "w.Workspace.commit = full",
         "error: no space left on device while writing " + str(workspace / "staging")),
        ("import molehunt.store.workspace as w\n"
         "def ro(self):\n"
         "    raise OSError(errno.EROFS, 'Read-only file system', str(self.root / '.lock'))\n"
         "w.Workspace.create = ro",
         f"error: read-only file system while writing {workspace / '.lock'}"),
        ("import molehunt.store.workspace as w\n"
         "def denied(self):\n"
         "    raise PermissionError(errno.EACCES, 'Permission denied', str(self.root))\n"
         "w.Workspace.create = denied",
         f"error: permission denied on {workspace}"),
        ("import molehunt.store.workspace as w\n"
         "def full(self, batch):\n"
         "    raise sqlite3.OperationalError('database or disk is full')\n"
         "w.Workspace.commit = full",
         "error: no space left on device"),
        ("import molehunt.store.workspace as w\n"
         "def full(self, batch):\n"
         "    raise duckdb.IOException('IO Error: Could not write file \"/ws/x.parquet\":"
         " No space left on device')\n"
         "w.Workspace.commit = full",
         "error: no space left on device while writing /ws/x.parquet"),
    ]
    for patch, expected in cases:
        result = _with_failure(workspace, patch, "ingest", "cert", str(folder))
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), (expected, result.stderr)
        assert "internal error" not in result.stderr
    # DuckDB running out of space while it writes a file's batch: the input is not to blame
    result = _with_failure(
        workspace, "import molehunt.sources.ingest as i\n"
        "def full(self, sql, label, progress):\n"
        "    raise duckdb.IOException('IO Error: Could not write file"
        " \"/ws/staging/b/events/data_0.parquet\": No space left on device')\n"
        "i._Session.read_file = full", "ingest", "cert", str(folder))
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {folder}"), result.stderr
    assert lines[0].endswith(": no space left on device while writing"
                             " /ws/staging/b/events/data_0.parquet; nothing of this file was"
                             " stored"), result.stderr
    # the export of the quarantine is classified the same way
    _molehunt("ingest", "cert", str(folder), workspace=workspace)
    result = _with_failure(
        workspace, "import os\ndef full(*a, **k):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device', '/out/q.csv')\n"
        "os.replace = full", "quarantine", "export", "--out", str(tmp_path / "q.csv"))
    assert result.stderr.strip() == "error: no space left on device while writing /out/q.csv"
    assert not (tmp_path / "q.csv").exists() and not (tmp_path / ".q.csv.partial").exists()
    # anything else is still an internal error, in one line
    other = _with_failure(workspace, "import molehunt.store.workspace as w\n"
                          "def bug(self):\n    raise ValueError('a bug')\n"
                          "w.Workspace.create = bug", "ingest", "cert", str(folder))
    assert other.stderr.startswith("internal error: ValueError: a bug")
