"""Accounts, roles, passwords (argon2), browser sessions, API tokens and login rate limits.

What each role may do is :data:`PERMISSIONS`; the web layer checks every route against it and
a test enumerates every route and every role.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string
import time
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from molehunt.cases.models import (
    ROLES,
    Account,
    ApiToken,
    LoginFailure,
    LoginSession,
    utcnow,
)
from molehunt.cases.store import CaseStore
from molehunt.errors import MolehuntError

#: permission → roles that hold it. Analysts triage pseudonymous leads; investigators also
#: reveal identities and export evidence; auditors and privacy officers read the audit log;
#: privacy officers approve reveals; admins run accounts and settings but read no leads.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"analyst", "investigator"}),
    "triage": frozenset({"analyst", "investigator"}),
    "reveal": frozenset({"investigator"}),
    "approve_reveal": frozenset({"privacy_officer"}),
    "export_evidence": frozenset({"investigator"}),
    "audit": frozenset({"auditor", "privacy_officer", "admin"}),
    "settings_read": frozenset({"admin", "privacy_officer", "analyst", "investigator"}),
    "settings_write": frozenset({"admin"}),
    "accounts": frozenset({"admin"}),
    "siem": frozenset({"admin"}),
    "self": frozenset(ROLES),
}

SESSION_HOURS = 8
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD = 12
_hasher = PasswordHasher()


class AccessError(MolehuntError):
    """Authentication failed or the role lacks the permission (the web maps it to 401/403)."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


class InputError(MolehuntError):
    """A request's content is invalid (the web maps it to 400 with this one line)."""


class NotFoundError(MolehuntError):
    """A requested object does not exist (the web maps it to 404)."""


class RateLimitError(MolehuntError):
    """Too many failed logins for this user name or address (the web maps it to 429)."""


@dataclass(frozen=True)
class Principal:
    """Who is making a request: an account and how it authenticated."""

    account_id: int
    username: str
    role: str
    csrf_token: str | None = None   # None for API tokens (no ambient credential to forge)
    via: str = "session"

    def can(self, permission: str) -> bool:
        """Whether this principal's role holds ``permission``."""
        return self.role in PERMISSIONS[permission]


class PrincipalCache:
    """Who a credential (session cookie or API token) belongs to, remembered for seconds.

    Looking the credential up costs a database round trip on every request; under load that
    was a measurable share of each answer. Only known credentials are remembered (an unknown
    one is looked up every time, so guessing cannot fill the memory), keyed by the
    credential's SHA-256. This process forgets everything when an account, session or token
    changes (:meth:`clear`); a change made by another process (``molehunt accounts`` on the
    command line) takes effect here within ``seconds``.
    """

    def __init__(self, seconds: float = 5.0, size: int = 10_000) -> None:
        self.seconds, self.size = seconds, size
        self._known: dict[str, tuple[float, Principal]] = {}

    def get(self, credential: str) -> Principal | None:
        """The remembered principal of a credential, or ``None``."""
        hit = self._known.get(_sha256(credential))
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, credential: str, principal: Principal) -> None:
        """Remember a credential's principal for :attr:`seconds`."""
        if len(self._known) >= self.size:
            self._known = {}
        self._known[_sha256(credential)] = (time.monotonic() + self.seconds, principal)

    def clear(self) -> None:
        """Forget everything (an account, session or token changed)."""
        self._known = {}


def can(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission``.

    >>> can("analyst", "reveal"), can("investigator", "reveal")
    (False, True)
    """
    return role in PERMISSIONS[permission]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def generate_password(length: int = 20) -> str:
    """A random password of letters and digits.

    >>> len(generate_password())
    20
    """
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`, else a one-line :class:`InputError`."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password must have at least {MIN_PASSWORD} characters")


def _check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise InputError("user name must be 1-64 letters, digits or . _ - @")
    return name


@dataclass(frozen=True)
class HashedPassword:
    """A password that passed the policy, already hashed (see :func:`hash_password`)."""

    value: str


def hash_password(password: str) -> HashedPassword:
    """Check ``password`` against the policy and hash it (argon2id).

    Call it before :meth:`CaseStore.transaction`: hashing is slow on purpose and should not
    hold the process's write lock.
    """
    _check_password(password)
    return HashedPassword(_hasher.hash(password))


def _hashed(password: str | HashedPassword) -> str:
    return password.value if isinstance(password, HashedPassword) else (
        hash_password(password).value)


def create_account(session: Session, username: str, password: str | HashedPassword,
                   role: str) -> Account:
    """Add an account (one-line errors for a taken name, weak password or unknown role)."""
    name = _check_username(username)
    check_role(role)
    if session.scalar(sa.select(Account.id).where(Account.username == name)) is not None:
        raise InputError(f"user name {name!r} is taken")
    account = Account(username=name, password_hash=_hashed(password), role=role)
    session.add(account)
    session.flush()
    return account


def set_password(session: Session, account: Account, password: str | HashedPassword) -> None:
    """Replace an account's password and end its sessions."""
    account.password_hash = _hashed(password)
    session.execute(sa.delete(LoginSession).where(LoginSession.account_id == account.id))


def ensure_admin(session: Session, username: str = "admin", *, reset: bool = False
                 ) -> str | None:
    """Create the admin account when there is none (or reset its password when asked).

    Returns the new password, or ``None`` when nothing changed.
    """
    account = session.scalar(sa.select(Account).where(Account.username == username))
    password = generate_password()
    if account is None:
        create_account(session, username, password, "admin")
        return password
    if reset:
        set_password(session, account, password)
        account.active = True
        return password
    return None


def _recent_failures(session: Session, key: str, now: dt.datetime) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(LoginFailure).where(
        LoginFailure.key == key, LoginFailure.at > now - FAILURE_WINDOW)) or 0


def login(store: CaseStore, username: str, password: str, client: str
          ) -> tuple[Account, str, str]:
    """Check a password; returns the account, a new session token and its CSRF token.

    After :data:`MAX_FAILURES` failures within :data:`FAILURE_WINDOW` for the same user name
    or the same client address, every attempt is refused (even a right password) until the
    window has passed, so guessing costs at most five tries per quarter hour.

    The argon2 work (tens of milliseconds of CPU, on purpose) runs outside
    :meth:`CaseStore.transaction`: that lock serialises every write of the process (audit
    entries of page views among them), so a flood of logins must not hold it while hashing.
    Only the short writes (the failure rows, the new session) take it.
    """
    now = utcnow()
    keys = (f"user:{username.strip().lower()}", f"addr:{client}")
    with store.sessions() as session:
        if any(_recent_failures(session, key, now) >= MAX_FAILURES for key in keys):
            raise RateLimitError("too many failed logins; try again in 15 minutes")
        account = session.scalar(sa.select(Account).where(Account.username == username.strip()))
    valid = False
    if account is not None and account.active:
        try:
            valid = _hasher.verify(account.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            valid = False
    else:  # same work whether or not the name exists, so timing does not reveal names
        _hasher.hash(password)
    if not valid or account is None:
        with store.transaction() as session:
            for key in keys:
                session.add(LoginFailure(key=key, at=now))
        raise AccessError("wrong user name or password", status=401)
    rehashed = (_hasher.hash(password) if _hasher.check_needs_rehash(account.password_hash)
                else None)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.transaction() as session:
        current = session.get(Account, account.id)
        if current is None or not current.active:  # deactivated while we were hashing
            raise AccessError("wrong user name or password", status=401)
        if rehashed is not None:
            current.password_hash = rehashed
        session.add(LoginSession(token_hash=_sha256(token), account_id=current.id,
                                 csrf_token=csrf, created_at=now,
                                 expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
        session.execute(sa.delete(LoginSession).where(LoginSession.expires_at < now))
        session.execute(sa.delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))
    return current, token, csrf


def logout(session: Session, token: str) -> None:
    """End a browser session."""
    session.execute(sa.delete(LoginSession).where(LoginSession.token_hash == _sha256(token)))


def principal_from_session(session: Session, token: str) -> Principal | None:
    """The principal of a session cookie, or ``None`` when unknown or expired."""
    row = session.execute(
        sa.select(LoginSession, Account).join(Account, Account.id == LoginSession.account_id)
        .where(LoginSession.token_hash == _sha256(token))).first()
    if row is None:
        return None
    login_session, account = row
    if login_session.expires_at < utcnow() or not account.active:
        return None
    return Principal(account.id, account.username, account.role, login_session.csrf_token)


def create_token(session: Session, account: Account, name: str) -> str:
    """A new API token for ``account`` (shown once; only its hash is kept)."""
    if not name.strip() or len(name) > 128:
        raise InputError("token name must be 1-128 characters")
    token = "mh_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_sha256(token), account_id=account.id, name=name.strip()))
    session.flush()
    return token


def principal_from_token(session: Session, token: str) -> Principal | None:
    """The principal of a bearer token, or ``None`` when unknown or revoked."""
    row = session.execute(
        sa.select(ApiToken, Account).join(Account, Account.id == ApiToken.account_id)
        .where(ApiToken.token_hash == _sha256(token))).first()
    if row is None or row[0].revoked or not row[1].active:
        return None
    return Principal(row[1].id, row[1].username, row[1].role, None, via="token")
