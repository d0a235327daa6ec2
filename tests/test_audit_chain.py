"""The keyed, anchored audit chain (issue 19, item 3), attacked the way the issue describes:
a database administrator who drops the triggers, edits rows and recomputes the documented
hash; who deletes the newest entries; who doctors an evidence bundle and inserts the
``case.export`` row that vouches for it. Each attack goes through the real command line
(``molehunt audit ...``) on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from console_fixture import ConsoleWorkspace, build
from molehunt.cases.accounts import create_account, create_token
from molehunt.cli import app as cli
from molehunt.errors import StoreError
from molehunt.web.app import create_app

PASSWORD = "a long enough password"


def _molehunt(workspace: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--workspace", str(workspace), *args])


def _text(result: Any) -> str:
    """What a command printed, with the terminal's line wrapping undone."""
    return " ".join(result.output.split())


def _documented_hash(prev: str, row: Any) -> str:
    """The hash as the docs described it before the key: SHA-256 of the previous hash and
    the entry's canonical JSON."""
    fields = {"seq": row.seq, "at": row.at, "actor": row.actor, "role": row.role,
              "action": row.action, "target": row.target, "reason": row.reason,
              "details": row.details}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()


def _entries(workspace: Path, url: str, count: int) -> None:
    """``count`` audit entries, written the way an operator writes them."""
    for i in range(count):
        made = _molehunt(workspace, "accounts", "create", f"user{i}", "--database-url", url)
        assert made.exit_code == 0, made.output


def _drop_triggers(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")


def _rechain(engine: sa.Engine, start: int) -> None:
    """Recompute every hash from entry ``start`` on with the documented rule."""
    with engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT * FROM audit_log ORDER BY seq")).all()
        prev = "0" * 64
        for row in rows:
            if row.seq >= start:
                new = _documented_hash(prev, row)
                connection.execute(sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h"
                                           " WHERE seq = :s"),
                                   {"p": prev, "h": new, "s": row.seq})
                prev = new
            else:
                prev = row.hash


def _verify(workspace: Path, url: str) -> Any:
    return _molehunt(workspace, "audit", "verify", "--database-url", url)


def test_a_rechained_log_fails_verify_naming_the_edited_entry(database_url: str,
                                                               tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    _entries(workspace, database_url, 4)
    assert _verify(workspace, database_url).exit_code == 0
    engine = sa.create_engine(database_url)
    _drop_triggers(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_log SET target = 'nobody' WHERE seq = 2"))
    _rechain(engine, 2)
    engine.dispose()
    result = _verify(workspace, database_url)
    assert result.exit_code == 1
    assert "audit log broken: entry 2 was altered (hash mismatch)" in _text(result)
    assert "append-only triggers are missing or disabled" in _text(result)


def test_a_shortened_log_fails_verify(database_url: str, tmp_path: Path) -> None:
    """Entry 2 removed, the later ones renumbered and rechained with the documented hash."""
    workspace = tmp_path / "ws"
    _entries(workspace, database_url, 4)
    engine = sa.create_engine(database_url)
    _drop_triggers(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM audit_log WHERE seq = 2"))
        for seq in (3, 4):
            connection.execute(sa.text("UPDATE audit_log SET seq = :new WHERE seq = :old"),
                               {"new": seq - 1, "old": seq})
    _rechain(engine, 2)
    engine.dispose()
    result = _verify(workspace, database_url)
    assert result.exit_code == 1
    assert "audit log broken: entry 2 was altered (hash mismatch)" in _text(result)


def test_deleting_the_newest_entries_fails_against_the_checkpoint_file(
        database_url: str, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    _entries(workspace, database_url, 4)
    checkpoint = _molehunt(workspace, "audit", "checkpoint", "--database-url", database_url)
    assert checkpoint.exit_code == 0, checkpoint.output
    assert json.loads(checkpoint.stdout)["seq"] == 4
    engine = sa.create_engine(database_url)
    _drop_triggers(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM audit_log WHERE seq > 2"))
    engine.dispose()
    result = _verify(workspace, database_url)
    assert result.exit_code == 1
    assert ("entry 3 is missing: the log ends at entry 2 but the checkpoint signed at"
            in _text(result))
    assert "(the newest entries were deleted)" in _text(result)


def test_checkpoints_are_signed_and_verify_offline_with_the_public_key(tmp_path: Path) -> None:
    workspace, url = tmp_path / "ws", f"sqlite:///{tmp_path / 'console.sqlite'}"
    _entries(workspace, url, 2)
    assert _molehunt(workspace, "audit", "checkpoint", "--database-url", url).exit_code == 0
    pem = _molehunt(workspace, "audit", "public-key")
    assert pem.exit_code == 0 and pem.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    public = load_pem_public_key(pem.stdout.encode())
    assert isinstance(public, Ed25519PublicKey)
    assert oct((workspace / "console" / "audit.key").stat().st_mode & 0o777) == "0o600"
    path = workspace / "console" / "audit-checkpoints.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[-1]["seq"] == 2 and lines[-1]["keyed_from"] == 1
    for line in lines:  # what an auditor does with the file (or the SIEM's copy)
        payload = {k: line[k] for k in ("seq", "head", "first", "keyed_from", "at")}
        public.verify(base64.b64decode(line["signature"]),
                      json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    # a forged line (a lower head, to hide the newest entries) does not verify
    forged = {**lines[-1], "seq": 1}
    with path.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")
    result = _verify(workspace, url)
    assert result.exit_code == 1
    assert f"audit-checkpoints.jsonl line {len(lines) + 1}: the signature does not hold" in (
        _text(result))


def test_moving_the_switch_over_to_keyed_hashes_is_caught(tmp_path: Path) -> None:
    """With the switch-over moved past the log's end, every entry would be checked with the
    documented unkeyed hash, which anyone can recompute: the signed checkpoints hold the real
    switch-over."""
    workspace, url = tmp_path / "ws", f"sqlite:///{tmp_path / 'console.sqlite'}"
    _entries(workspace, url, 3)
    assert _molehunt(workspace, "audit", "checkpoint", "--database-url", url).exit_code == 0
    engine = sa.create_engine(url)
    _drop_triggers(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE console_settings SET value = '1000'"
                                   " WHERE key = 'audit_keyed_from'"))
        connection.execute(sa.text("UPDATE audit_log SET target = 'nobody' WHERE seq = 2"))
    _rechain(engine, 2)
    engine.dispose()
    result = _verify(workspace, url)
    assert result.exit_code == 1
    assert "keyed hashes start at entry 1000 by the database but at entry 1" in _text(result)


def test_an_unkeyed_log_from_before_the_key_keeps_verifying(tmp_path: Path) -> None:
    """Migration 0003 records the switch-over: older entries verify with the old rule, new
    ones with the key, and rewriting an old entry still breaks the first keyed one."""
    from alembic import command

    from molehunt.cases.store import _alembic_config, open_store

    workspace, url = tmp_path / "ws", f"sqlite:///{tmp_path / 'console.sqlite'}"
    old = open_store(url, migrate=False)
    with old.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0002")
        prev = "0" * 64
        for seq in (1, 2, 3):
            row = {"seq": seq, "at": f"2026-01-0{seq}T00:00:00.000000", "actor": "ana",
                   "role": "analyst", "action": "person.view", "target": f"P-{seq}",
                   "reason": None, "details": "{}"}
            digest = _documented_hash(prev, _Row(row))
            connection.execute(sa.text(
                "INSERT INTO audit_log (seq, at, actor, role, action, target, reason, details,"
                " prev_hash, hash) VALUES (:seq, :at, :actor, :role, :action, :target,"
                " :reason, :details, :prev, :hash)"), {**row, "prev": prev, "hash": digest})
            prev = digest
    old.close()
    _entries(workspace, url, 2)  # opens (so migrates) the store, then writes keyed entries
    result = _verify(workspace, url)
    assert result.exit_code == 0, result.output
    assert "5 entries" in _text(result)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT value FROM console_settings WHERE key ="
                                          " 'audit_keyed_from'")).scalar() == "4"
    _drop_triggers(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_log SET target = 'nobody' WHERE seq = 2"))
    _rechain(engine, 2)  # the unkeyed entries rechain; entry 4 is keyed over entry 3's hash
    engine.dispose()
    result = _verify(workspace, url)
    assert result.exit_code == 1  # the first start signed the unkeyed head
    assert "entry 3 differs from the checkpoint signed at" in _text(result)
    # and without the checkpoints (a new process, which never saw the file) the first keyed
    # entry breaks
    (workspace / "console" / "audit-checkpoints.jsonl").unlink()
    alone = subprocess.run([sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace),
                            "audit", "verify", "--database-url", url], capture_output=True,
                           text=True, env={**os.environ, "COLUMNS": "300"}, timeout=300)
    assert alone.returncode == 1
    assert "audit log broken: entry 4 was altered (hash mismatch)" in alone.stderr


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def test_the_console_does_not_start_without_the_append_only_triggers(
        database_url: str, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    _entries(workspace, database_url, 1)
    engine = sa.create_engine(database_url)
    _drop_triggers(engine)
    engine.dispose()
    with pytest.raises(StoreError, match="append-only triggers are missing or disabled"):
        create_app(workspace, database_url, index_activity=False)


# -- evidence bundles ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """The simulated workspace with fake results (built once for the module)."""
    return build(tmp_path_factory.mktemp("console"))


def _export(made: ConsoleWorkspace, url: str) -> bytes:
    """A case with one alert, exported as an evidence bundle through the API."""
    app = create_app(made.root, url, index_activity=False)
    with app.state.console.store.transaction() as session:
        token = create_token(session, create_account(session, "inv", PASSWORD,
                                                     "investigator"), "tests")
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    alert_id = client.get("/api/v1/alerts", headers=headers).json()["alerts"][0]["alert_id"]
    case_id = client.post("/api/v1/cases", json={"alert_ids": [alert_id], "title": "USB"},
                          headers=headers).json()["id"]
    client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "interviewed manager"},
                headers=headers)
    bundle = client.get(f"/api/v1/cases/{case_id}/bundle", headers=headers)
    assert bundle.status_code == 200, bundle.text
    app.state.console.close()
    return bundle.content


def _doctor(data: bytes) -> tuple[bytes, str]:
    """Change a note, and rebuild the manifest with the documented chain (what anyone can do
    without the key); returns the new bundle and its chain head."""
    source = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(source.read("manifest.json"))
    contents = {name: source.read(name) for name in source.namelist()}
    contents["notes.jsonl"] = contents["notes.jsonl"].replace(b"interviewed manager",
                                                              b"manager cleared him")
    chain = "0" * 64
    for entry in manifest["files"]:
        entry["sha256"] = hashlib.sha256(contents[entry["name"]]).hexdigest()
        chain = hashlib.sha256(f"{chain}:{entry['name']}:{entry['sha256']}".encode()
                               ).hexdigest()
        entry["chain"] = chain
    manifest["chain_head"] = chain
    contents["manifest.json"] = json.dumps(manifest, indent=2).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, content in contents.items():
            target.writestr(name, content)
    return out.getvalue(), chain


def test_a_doctored_bundle_with_an_inserted_export_row_fails_verify_bundle(
        made: ConsoleWorkspace, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.sqlite'}"
    genuine = tmp_path / "genuine.zip"
    genuine.write_bytes(_export(made, url))
    ok = _molehunt(made.root, "audit", "verify-bundle", str(genuine), "--database-url", url)
    assert ok.exit_code == 0, ok.output
    doctored, head = _doctor(genuine.read_bytes())
    path = tmp_path / "doctored.zip"
    path.write_bytes(doctored)
    # the append-only triggers allow an INSERT: the row that vouches for the doctored bundle
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        last = connection.execute(sa.text("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1")
                                  ).one()
        row = _Row({"seq": last.seq + 1, "at": last.at, "actor": "inv",
                    "role": "investigator", "action": "case.export", "target": "case:1",
                    "reason": None, "details": json.dumps({"bytes": len(doctored),
                                                           "chain_head": head})})
        connection.execute(sa.text(
            "INSERT INTO audit_log (seq, at, actor, role, action, target, reason, details,"
            " prev_hash, hash) VALUES (:seq, :at, :actor, :role, :action, :target, :reason,"
            " :details, :prev, :hash)"),
            {**row.__dict__, "prev": last.hash, "hash": _documented_hash(last.hash, row)})
    engine.dispose()
    result = _molehunt(made.root, "audit", "verify-bundle", str(path), "--database-url", url)
    assert result.exit_code == 1
    assert "the manifest's signature does not hold under the public key" in _text(result)
    ok = _molehunt(made.root, "audit", "verify-bundle", str(genuine), "--database-url", url)
    assert ok.exit_code == 0 and "bundle intact, signed and logged (entry" in _text(ok)


def test_a_bundle_verifies_offline_with_the_public_key_alone(made: ConsoleWorkspace,
                                                            tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.sqlite'}"
    genuine = tmp_path / "genuine.zip"
    genuine.write_bytes(_export(made, url))
    pem = tmp_path / "audit-public.pem"
    assert _molehunt(made.root, "audit", "public-key", "--out", str(pem)).exit_code == 0
    elsewhere = tmp_path / "auditor"  # an empty workspace: no key, no database
    ok = _molehunt(elsewhere, "audit", "verify-bundle", str(genuine), "--public-key", str(pem))
    assert ok.exit_code == 0, ok.output
    assert "bundle intact and signed" in _text(ok)
    assert not (elsewhere / "console").exists()
    doctored = tmp_path / "doctored.zip"
    doctored.write_bytes(_doctor(genuine.read_bytes())[0])
    bad = _molehunt(elsewhere, "audit", "verify-bundle", str(doctored), "--public-key",
                    str(pem))
    assert bad.exit_code == 1 and "signature does not hold" in _text(bad)
    # signed by another key, with that key inside: the trusted key decides
    from molehunt.cases.auditkey import AuditKey
    from molehunt.cases.bundle import build_bundle

    source = zipfile.ZipFile(io.BytesIO(genuine.read_bytes()))
    files = [(name, source.read(name)) for name in ("case.json", "notes.jsonl")]
    forged, _ = build_bundle(files, {"case_id": 1}, AuditKey(b"mallory's own key 32 bytes long"))
    (tmp_path / "forged.zip").write_bytes(forged)
    bad = _molehunt(elsewhere, "audit", "verify-bundle", str(tmp_path / "forged.zip"),
                    "--public-key", str(pem))
    assert bad.exit_code == 1 and "signature does not hold" in _text(bad)


def test_the_console_writer_checkpoints_and_sends_each_checkpoint_to_the_siem(
        tmp_path: Path) -> None:
    """Every 100 entries of the group-committing writer, and when it closes, a signed
    checkpoint goes to the file and, as CEF over syslog (TCP, on loopback), to the SIEM."""
    import socket

    from molehunt.cases import audit
    from molehunt.cases.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'console.sqlite'}")
    key = audit.open_chain(store, tmp_path / "console")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(60)
        audit.configure_forwarding(key, f"syslog+tcp://127.0.0.1:{server.getsockname()[1]}")
        writer = audit.AuditWriter(store)
        for i in range(130):
            writer.write(actor="ana", role="analyst", action="person.view", target=f"P-{i}")
        writer.close()
        received = []
        while len(received) < 2:  # one connection per checkpoint, closed by the sender
            connection, _ = server.accept()
            with connection:
                connection.settimeout(60)
                data = b""
                while chunk := connection.recv(65536):
                    data += chunk
                received.append(data.decode())
    audit.configure_forwarding(key, "")
    lines = (tmp_path / "console" / "audit-checkpoints.jsonl").read_text().splitlines()
    seqs = [json.loads(line)["seq"] for line in lines]
    assert seqs[-1] == 130 and any(100 <= s < 130 for s in seqs), seqs
    assert all("audit-checkpoint" in message for message in received)
    assert sorted(int(m.split("cn1=")[1].split()[0]) for m in received) == sorted(seqs[-2:])
    assert audit.verify(store).ok and audit.verify(store).anchored == 130
    store.close()


def test_a_hand_written_export_row_does_not_vouch_for_a_bundle(made: ConsoleWorkspace,
                                                                tmp_path: Path) -> None:
    """The export's own entry deleted and written again by hand (documented hash): the
    bundle's signature holds, but its entry in the log was not written by the console."""
    url = f"sqlite:///{tmp_path / 'console.sqlite'}"
    genuine = tmp_path / "genuine.zip"
    genuine.write_bytes(_export(made, url))
    engine = sa.create_engine(url)
    _drop_triggers(engine)
    with engine.begin() as connection:
        export = connection.execute(sa.text("SELECT * FROM audit_log WHERE action ="
                                            " 'case.export'")).one()
        connection.execute(sa.text("DELETE FROM audit_log WHERE seq = :s"), {"s": export.seq})
        connection.execute(sa.text(
            "INSERT INTO audit_log (seq, at, actor, role, action, target, reason, details,"
            " prev_hash, hash) VALUES (:seq, :at, :actor, :role, :action, :target, :reason,"
            " :details, :prev, :hash)"),
            {**export._asdict(), "prev": export.prev_hash,
             "hash": _documented_hash(export.prev_hash, export)})
    engine.dispose()
    result = _molehunt(made.root, "audit", "verify-bundle", str(genuine), "--database-url", url)
    assert result.exit_code == 1
    assert "was not written by the console (its keyed hash does not hold)" in _text(result)
