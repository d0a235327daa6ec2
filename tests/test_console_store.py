"""The analyst store on SQLite and on a real PostgreSQL server: migrations, accounts,
sessions, rate limits, the audit chain, pseudonyms and evidence bundles."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from molehunt.cases import audit
from molehunt.cases.accounts import (
    AccessError,
    InputError,
    RateLimitError,
    create_account,
    create_token,
    ensure_admin,
    login,
    principal_from_session,
    principal_from_token,
)
from molehunt.cases.bundle import build_bundle, verify_bundle
from molehunt.cases.models import Account, AuditEntry, LoginSession
from molehunt.cases.pseudonyms import Person, Pseudonyms, load_or_create_key, pseudonym
from molehunt.cases.store import CaseStore, open_store


def test_migrations_reach_head_and_are_idempotent(database_url: str, tmp_path: Path) -> None:
    store = _open(database_url, tmp_path)
    assert store.revision() == store.head_revision() == "0004"
    store.migrate()  # a second run changes nothing and does not fail
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"accounts", "alerts", "cases", "audit_log", "approval_requests",
            "alembic_version"} <= names
    store.close()


def test_accounts_sessions_tokens(database_url: str, tmp_path: Path) -> None:
    store = _open(database_url, tmp_path)
    with store.transaction() as session:
        create_account(session, "ana", "correct horse battery", "analyst")
        with pytest.raises(InputError, match="taken"):
            create_account(session, "ana", "another long password", "analyst")
        with pytest.raises(InputError, match="at least 12"):
            create_account(session, "bob", "short", "analyst")
        with pytest.raises(InputError, match="unknown role"):
            create_account(session, "bob", "long enough password", "boss")
    account, token, csrf = login(store, "ana", "correct horse battery", "10.0.0.1")
    with store.sessions() as session:
        stored = session.scalar(sa.select(Account.password_hash).where(Account.id == account.id))
        assert stored is not None and stored.startswith("$argon2")
        assert session.scalar(sa.select(LoginSession.token_hash)) != token  # only a hash
    with store.sessions() as session:
        principal = principal_from_session(session, token)
        assert principal is not None and principal.role == "analyst"
        assert principal.csrf_token == csrf
        assert principal_from_session(session, token + "x") is None
    with store.transaction() as session:
        ana = session.scalar(sa.select(Account).where(Account.username == "ana"))
        assert ana is not None
        api = create_token(session, ana, "siem")
    with store.sessions() as session:
        by_token = principal_from_token(session, api)
        assert by_token is not None and by_token.via == "token" and by_token.csrf_token is None


def test_login_rate_limit_blocks_even_the_right_password(database_url: str, tmp_path: Path) -> None:
    store = _open(database_url, tmp_path)
    with store.transaction() as session:
        create_account(session, "ana", "correct horse battery", "analyst")
    for _ in range(5):
        with pytest.raises(AccessError):
            login(store, "ana", "wrong password!!", "10.0.0.9")
    with pytest.raises(RateLimitError):
        login(store, "ana", "correct horse battery", "10.0.0.9")
    # another user from the same address is blocked too (per-address limit)
    with store.transaction() as session:
        create_account(session, "eve", "another good password", "analyst")
    with pytest.raises(RateLimitError):
        login(store, "eve", "another good password", "10.0.0.9")


def test_ensure_admin_creates_once_and_resets_on_request(database_url: str, tmp_path: Path) -> None:
    store = _open(database_url, tmp_path)
    with store.transaction() as session:
        first = ensure_admin(session)
        assert first is not None
        assert ensure_admin(session) is None
        second = ensure_admin(session, reset=True)
        assert second is not None and second != first
    account, _, _ = login(store, "admin", second, "127.0.0.1")
    assert account.role == "admin"


def _open(database_url: str, tmp_path: Path) -> CaseStore:
    """The store with its audit entries keyed (the key kept in ``tmp_path``)."""
    store = open_store(database_url)
    audit.open_chain(store, tmp_path / "console")
    return store


def _append(store: object, n: int) -> None:
    for i in range(n):
        with store.transaction() as session:  # type: ignore[attr-defined]
            audit.record(session, actor="ana", role="analyst", action="person.view",
                         target=f"P-{i}", reason=None, details={"i": i})


def test_audit_chain_verifies_and_detects_tampering(database_url: str, tmp_path: Path) -> None:
    store = _open(database_url, tmp_path)
    _append(store, 5)
    result = audit.verify(store)
    assert result.ok and result.entries == 5
    # the database refuses to rewrite history
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.transaction() as session:
        session.execute(sa.update(AuditEntry).where(AuditEntry.seq == 3)
                        .values(actor="mallory"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.transaction() as session:
        session.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 3))
    # a database administrator who drops the triggers is still caught by the chain
    with store.engine.begin() as connection:
        if store.dialect == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        connection.execute(sa.update(AuditEntry).where(AuditEntry.seq == 3)
                           .values(actor="mallory"))
    broken = audit.verify(store)
    assert not broken.ok and broken.problem == "entry 3 was altered (hash mismatch)"
    with store.engine.begin() as connection:
        connection.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 3))
    assert audit.verify(store).problem == "entry 3 is missing (next is 4)"


def test_audit_chain_holds_under_concurrent_writers(database_url: str, tmp_path: Path) -> None:
    store = _open(database_url, tmp_path)
    threads = [threading.Thread(target=_append, args=(store, 10)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = audit.verify(store)
    assert result.ok and result.entries == 40


def test_audit_chain_across_two_store_objects(database_url: str, tmp_path: Path) -> None:
    """Two processes (two engines) appending: the database, not a Python lock, orders them."""
    first, second = _open(database_url, tmp_path), _open(database_url, tmp_path)
    threads = [threading.Thread(target=_append, args=(s, 10)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert audit.verify(first).entries == 20 and audit.verify(first).ok


def test_audit_writer_group_commits_a_correct_chain(database_url: str, tmp_path: Path) -> None:
    """Many threads writing views through the group commit, interleaved with entries written
    inside changes: every caller's entry is committed when write() returns, and the chain
    verifies with every entry present once."""
    store = _open(database_url, tmp_path)
    writer = audit.AuditWriter(store)
    seen_after_return: list[bool] = []

    def view(thread: int) -> None:
        for i in range(15):
            writer.write(actor=f"a{thread}", role="analyst", action="person.view",
                         target=f"P-{thread}-{i}", details={"i": i})
            with store.sessions() as session:  # committed, so a fresh session sees it
                seen_after_return.append(session.scalar(sa.select(sa.func.count()).where(
                    AuditEntry.target == f"P-{thread}-{i}")) == 1)

    def change() -> None:
        for i in range(10):
            with store.transaction() as session:
                audit.record(session, actor="admin", role="admin", action="weight.set",
                             target=f"w{i}")

    threads = [threading.Thread(target=view, args=(t,)) for t in range(8)]
    threads.append(threading.Thread(target=change))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert all(seen_after_return) and len(seen_after_return) == 120
    result = audit.verify(store)
    assert result.ok and result.entries == 130, result
    with store.sessions() as session:
        targets = session.scalars(sa.select(AuditEntry.target)).all()
    assert len(set(targets)) == 130
    with pytest.raises(RuntimeError):
        writer.write(actor="late", role="analyst", action="person.view")
    store.close()


def test_pseudonyms_are_keyed_stable_and_reversible_only_with_the_map(tmp_path: object
                                                                      ) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    key = load_or_create_key(folder)
    assert load_or_create_key(folder) == key
    assert oct((folder / "pseudonym.key").stat().st_mode & 0o777) == "0o600"
    other = pseudonym(b"another key of 32 bytes.........", "ACM2278")
    assert pseudonym(key, "ACM2278") == pseudonym(key, "ACM2278") != other
    people = Pseudonyms(key, {"ACM2278": Person("ACM2278", "Ann Carol Moss",
                                                "Ann.Carol.Moss@dtaa.com")})
    alias = people.of("ACM2278")
    assert people.user_id(alias) == "ACM2278"
    text = people.redact("From Ann.Carol.Moss@dtaa.com to ann.carol.moss@gmail.com,"
                         " signed Ann Carol Moss (ACM2278) and Dr Ann Carol Moss Jr")
    assert text is not None
    assert "Ann" not in text and "ACM2278" not in text and "moss" not in text.lower()
    assert text.count(alias) == 5


def test_bundle_manifest_detects_changed_removed_and_added_files() -> None:
    files = [("case.json", b'{"id": 1}'), ("events.jsonl", b'{"e": 1}\n'),
             ("notes.jsonl", b'{"n": "x"}\n')]
    data, head = build_bundle(files, {"case_id": 1})
    assert verify_bundle(data) == (True, head, [])

    def rewrite(change: dict[str, bytes | None]) -> bytes:
        source = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for name in source.namelist():
                content = change.get(name, source.read(name))
                if content is not None:
                    target.writestr(name, content)
            for name, content in change.items():
                if name not in source.namelist() and content is not None:
                    target.writestr(name, content)
        return out.getvalue()

    ok, _, problems = verify_bundle(rewrite({"events.jsonl": b'{"e": 2}\n'}))
    assert not ok and problems == ["events.jsonl: content changed (sha256 mismatch)"]
    ok, _, problems = verify_bundle(rewrite({"notes.jsonl": None}))
    assert not ok and problems == ["notes.jsonl: listed but missing"]
    ok, _, problems = verify_bundle(rewrite({"extra.txt": b"x"}))
    assert not ok and problems == ["extra.txt: not in the manifest"]
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    manifest["files"][0], manifest["files"][1] = manifest["files"][1], manifest["files"][0]
    ok, _, problems = verify_bundle(rewrite({"manifest.json": json.dumps(manifest).encode()}))
    assert not ok and any("chain broken" in p for p in problems)


def test_open_store_rejects_bad_urls() -> None:
    from molehunt.errors import ConfigError

    with pytest.raises(ConfigError, match="not a database URL"):
        open_store("no url at all")
    with pytest.raises(ConfigError, match="unsupported database"):
        open_store("mysql://x@y/z")


def test_utc_times_are_naive() -> None:
    from molehunt.cases.models import utcnow

    assert utcnow().tzinfo is None
    assert abs((utcnow() - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()) < 60


def test_a_locked_out_address_is_refused_before_any_read(database_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    store = _open(database_url, tmp_path)
    with store.transaction() as session:
        create_account(session, "ana", "correct horse battery", "analyst")
    for _ in range(5):  # the fifth failure starts the lockout, and it is remembered
        with pytest.raises(AccessError):
            login(store, "ana", "wrong password!!", "10.0.0.7")

    def unreadable() -> None:
        raise AssertionError("the store was read for a known lockout")

    with monkeypatch.context() as patched:
        patched.setattr(store, "sessions", unreadable)
        with pytest.raises(RateLimitError):
            login(store, "ana", "correct horse battery", "10.0.0.7")
    assert login(store, "ana", "correct horse battery", "10.0.0.8")[0].username == "ana"
