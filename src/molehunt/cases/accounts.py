"""Accounts, roles, passwords (argon2), browser sessions, API tokens and login rate limits.

What each role may do is :data:`PERMISSIONS`; the web layer checks every route against it and
a test enumerates every route and every role.

User names are compared in one normal form (:func:`canonical_username`: NFKC, case-folded,
one script), so ``Admin``, ``ADMIN`` and a Cyrillic ``аdmin`` cannot be three accounts.
Passwords must pass :func:`check_password` (length, a shipped list of common passwords and
their decorated forms, sequences, the user name). API tokens expire and carry scopes; a
password reset or a deactivation ends every session and token of the account
(:func:`end_access`). Failed logins and lockouts are written to the audit log with the
account and the client address.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib.resources
import os
import re
import secrets
import string
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from molehunt.cases import audit
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
#: Separation of duties: an allowlist beyond an alert's own evidence waits for a second
#: analyst, investigator or admin (``approve_allowlist``); switching the reveal approval off
#: and privileged accounts wait for a second admin or a privacy officer
#: (``approve_privileged``). Nobody approves their own request.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"analyst", "investigator"}),
    "triage": frozenset({"analyst", "investigator"}),
    "reveal": frozenset({"investigator"}),
    "approve_reveal": frozenset({"privacy_officer"}),
    "approve_allowlist": frozenset({"analyst", "investigator", "admin"}),
    "approve_privileged": frozenset({"admin", "privacy_officer"}),
    "export_evidence": frozenset({"investigator"}),
    "audit": frozenset({"auditor", "privacy_officer", "admin"}),
    "settings_read": frozenset({"admin", "privacy_officer", "analyst", "investigator"}),
    "settings_write": frozenset({"admin"}),
    "accounts": frozenset({"admin"}),
    "siem": frozenset({"admin"}),
    "self": frozenset(ROLES),
}

SESSION_HOURS = 8
#: failed logins within :data:`FAILURE_WINDOW` after which an account is refused *from that
#: address*, and after which an address is refused for every account
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
#: once an account has :data:`MAX_FAILURES` recent failures from anywhere, every attempt on
#: it is answered this much later: guessing from many addresses slows down, yet nobody can
#: lock the account (the admin's included) by failing on purpose
ACCOUNT_DELAY_SECONDS = 1.0
MIN_PASSWORD = 12
#: API tokens: what they may do, and for how long by default and at most
TOKEN_SCOPES = ("read", "write")
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365
_hasher = PasswordHasher()
#: a niceness added to the thread that checks passwords at login (argon2's own threads
#: inherit it): under a flood of guesses the machine's cores go to page views first
HASHING_NICENESS = 10
T = TypeVar("T")


def _lower_priority() -> None:
    # on Linux a thread id names one thread; elsewhere (or where it is not allowed) the one
    # thread still bounds the hashing to a single check at a time
    with contextlib.suppress(AttributeError, OSError):
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me,
                       min(19, os.getpriority(os.PRIO_PROCESS, me) + HASHING_NICENESS))


#: the one thread that checks passwords at login. argon2 takes ~0.2 CPU-seconds over several
#: threads per check, on purpose; in the request threads a flood of guesses took every core
#: and slowed everyone's pages. Here guesses queue behind each other, one at a time.
_hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="molehunt-password",
                              initializer=_lower_priority)


def _hashing_thread(work: Callable[[], T]) -> T:
    """``work()`` (argon2) on the password thread; the caller waits for its turn."""
    return _hashing.submit(work).result()


#: per store, lockout key → until when it is certainly locked (see :func:`_locked_until`)
_lockouts: weakref.WeakKeyDictionary[CaseStore, dict[str, dt.datetime]] = (
    weakref.WeakKeyDictionary())
_lockouts_lock = threading.Lock()


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
    #: what an API token may do (``read``: GET and HEAD only); sessions hold both
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(TOKEN_SCOPES))
    #: where the request came from (the client address; ``cli`` on the command line), for
    #: the audit entries of approvals
    client: str = ""

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


#: scripts that are written together in one language, so a name may mix them
_SCRIPT_FAMILIES = {"CJK": "HAN", "HIRAGANA": "HAN", "KATAKANA": "HAN", "HANGUL": "HAN",
                    "BOPOMOFO": "HAN"}


def _script(ch: str) -> str:
    first = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
    return _SCRIPT_FAMILIES.get(first, first)


def canonical_username(username: str) -> str:
    """The form in which user names are stored and compared: NFKC, case-folded, one script.

    Refuses (one-line :class:`InputError`) names with characters other than letters, digits
    and ``. _ - @`` (zero-width and bidi characters included) and names that mix scripts,
    such as a Latin name with one Cyrillic letter in it.

    >>> [canonical_username(n) for n in ("  ADMIN ", "Ａｄｍｉｎ", "Straße")]
    ['admin', 'admin', 'strasse']
    >>> canonical_username("\u0430dmin")
    Traceback (most recent call last):
    ...
    molehunt.cases.accounts.InputError: user name 'аdmin' mixes scripts (cyrillic, latin)
    """
    name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise InputError("user name must be 1-64 letters, digits or . _ - @")
    scripts = {_script(c) for c in name if c.isalpha()}
    if len(scripts) > 1:
        raise InputError(f"user name {username.strip()!r} mixes scripts"
                         f" ({', '.join(sorted(scripts)).lower()})")
    return name


def find_account(session: Session, username: str) -> Account | None:
    """The account a typed user name means (``None`` when there is none).

    By its normal form. An account made before migration 0002 that shares its normal form
    with another (``Admin`` next to ``admin``) has no key and is found by its exact name,
    looked up first (no new account can be without a key, so none can take that path).
    """
    legacy = session.scalar(sa.select(Account).where(Account.username == username.strip(),
                                                     Account.username_key.is_(None)))
    if legacy is not None:
        return legacy
    try:
        key = canonical_username(username)
    except InputError:
        return None
    return session.scalar(sa.select(Account).where(Account.username_key == key))


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords and stems (``molehunt/data/common_passwords.txt``)."""
    text = importlib.resources.files("molehunt").joinpath(
        "data/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                       "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"})
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiopasdfghjklzxcvbnm",
         "qwertzuiopasdfghjklyxcvbnm", "azertyuiopqsdfghjklmwxcvbn", "1qaz2wsx3edc4rfv5tgb",
         "zaq1xsw2cde3vfr4bgt5")


def check_password(password: str, username: str = "") -> None:
    """Refuse (one-line :class:`InputError`) a password that is short or easy to guess.

    At least :data:`MIN_PASSWORD` characters; not a common password or stem
    (:func:`common_passwords`) however decorated (case, leetspeak, digits and symbols around
    or between, repeated: ``P@ssw0rd2024!``, ``Summer2025!!``, ``passwordpassword``); not a
    run of the alphabet, digits or a keyboard row; not digits only; not three or fewer
    different characters; not containing the user name.

    >>> check_password("a long test password")
    >>> check_password("P@ssw0rd2024!")
    Traceback (most recent call last):
    ...
    molehunt.cases.accounts.InputError: password is a common one, however decorated
    """
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password must have at least {MIN_PASSWORD} characters")
    folded = unicodedata.normalize("NFKC", password).casefold()
    squashed = re.sub(r"[\W_]", "", folded)
    # digits and symbols before and after the word are decoration; inside it, leetspeak
    undecorated = re.sub(r"^[^a-z]+|[^a-z]+$", "", folded)
    letters = re.sub(r"[^a-z]", "", undecorated.translate(_LEET))
    core = re.sub(r"[^a-z]", "", folded)
    if len(set(folded)) <= 3:
        raise InputError("password has too few different characters")
    if squashed.isdigit():
        raise InputError("password must not be digits only")
    common = common_passwords()
    for form in {squashed, letters, core}:
        if form and (form in common or any(
                len(form) % len(word) == 0 and form == word * (len(form) // len(word))
                for word in common)):
            raise InputError("password is a common one, however decorated")
    if any(squashed in run or squashed in run[::-1] for run in _RUNS):
        raise InputError("password is a run of the alphabet, digits or a keyboard row")
    try:
        name = canonical_username(username) if username else ""
    except InputError:
        name = ""
    if len(name) >= 3 and name in folded:
        raise InputError("password must not contain the user name")


def _check_username(username: str) -> str:
    return canonical_username(username)


@dataclass(frozen=True)
class HashedPassword:
    """A password that passed the policy, already hashed (see :func:`hash_password`)."""

    value: str


def hash_password(password: str, username: str = "") -> HashedPassword:
    """Check ``password`` against the policy (:func:`check_password`) and hash it (argon2id).

    Call it before :meth:`CaseStore.transaction`: hashing is slow on purpose and should not
    hold the process's write lock.
    """
    check_password(password, username)
    return HashedPassword(_hasher.hash(password))


def _hashed(password: str | HashedPassword, username: str) -> str:
    return password.value if isinstance(password, HashedPassword) else (
        hash_password(password, username).value)


def create_account(session: Session, username: str, password: str | HashedPassword,
                   role: str) -> Account:
    """Add an account (one-line errors for a taken name, weak password or unknown role).

    The name is stored in its normal form (:func:`canonical_username`); a name whose normal
    form is taken (``ADMIN`` when ``admin`` exists) is refused.
    """
    name = _check_username(username)
    check_role(role)
    if session.scalar(sa.select(Account.id).where(
            sa.or_(Account.username_key == name, Account.username == name))) is not None:
        raise InputError(f"user name {name!r} is taken")
    account = Account(username=name, username_key=name,
                      password_hash=_hashed(password, name), role=role)
    session.add(account)
    session.flush()
    return account


def end_access(session: Session, account: Account) -> int:
    """End every browser session and revoke every API token of ``account`` (a password
    reset, a deactivation); returns how many tokens were revoked."""
    session.execute(sa.delete(LoginSession).where(LoginSession.account_id == account.id))
    revoked = session.execute(sa.update(ApiToken).where(
        ApiToken.account_id == account.id, ApiToken.revoked.is_(False)).values(revoked=True))
    return int(getattr(revoked, "rowcount", 0) or 0)


def set_password(session: Session, account: Account, password: str | HashedPassword) -> None:
    """Replace an account's password; end its sessions and revoke its API tokens."""
    account.password_hash = _hashed(password, account.username)
    end_access(session, account)


def ensure_admin(session: Session, username: str = "admin", *, reset: bool = False
                 ) -> str | None:
    """Create the admin account when there is none (or reset its password when asked).

    Returns the new password, or ``None`` when nothing changed.
    """
    account = find_account(session, username)
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


def _locked_until(session: Session, key: str, now: dt.datetime) -> dt.datetime | None:
    """When ``key``, locked now, unlocks at the earliest: when its :data:`MAX_FAILURES`-th
    newest failure leaves the window (``None``: not locked). Failures are only added (and
    none while locked: a refused attempt is not one), so it stays locked at least until then."""
    at = session.scalar(sa.select(LoginFailure.at).where(
        LoginFailure.key == key, LoginFailure.at > now - FAILURE_WINDOW)
        .order_by(LoginFailure.at.desc()).offset(MAX_FAILURES - 1).limit(1))
    return None if at is None else at + FAILURE_WINDOW


def _known_lockout(store: CaseStore, keys: tuple[str, ...], now: dt.datetime) -> bool:
    with _lockouts_lock:
        known = _lockouts.get(store)
        return known is not None and any(known.get(k, now) > now for k in keys)


def _remember_lockout(store: CaseStore, key: str, until: dt.datetime | None, now: dt.datetime
                      ) -> None:
    if until is None:
        return
    with _lockouts_lock:
        known = _lockouts.setdefault(store, {})
        if len(known) >= 10_000:  # many addresses: keep only the ones still locked
            for old in [k for k, v in known.items() if v <= now]:
                del known[old]
        known[key] = until


def login(store: CaseStore, username: str, password: str, client: str
          ) -> tuple[Account, str, str]:
    """Check a password; returns the account, a new session token and its CSRF token.

    Lockout is per account *and* address: after :data:`MAX_FAILURES` failures within
    :data:`FAILURE_WINDOW` for this account from this client address, or for any account
    from this address, that address is refused (even with the right password) until the
    window has passed. Failures from elsewhere never lock an account, so an attacker cannot
    lock the admin out; they only slow it: once the account has :data:`MAX_FAILURES` recent
    failures from anywhere, every answer about it waits :data:`ACCOUNT_DELAY_SECONDS`.
    Every failure is audited (``login.failed``: the name tried, whether it exists, the
    client address) and so is the failure that starts a lockout (``login.lockout``).

    The argon2 work (tens of milliseconds of CPU, on purpose) and the delay run outside
    :meth:`CaseStore.transaction`: that lock serialises every write of the process (audit
    entries of page views among them), so a flood of logins must not hold it. Only the short
    writes (the failure rows and audit entries, the new session) take it. The argon2 work
    runs on one thread of low priority, so a flood of guesses queues behind itself instead
    of taking every core; an address or account+address known to be locked out is refused
    before any database read (the lockout's end is remembered in memory).
    """
    now = utcnow()
    try:
        key = canonical_username(username)
    except InputError:
        key = username.strip()[:64]
    pair, address, anywhere = f"pair:{key}|{client}"[:200], f"addr:{client}"[:200], (
        f"acct:{key}"[:200])
    refused = RateLimitError("too many failed logins from this address; try again in 15"
                             " minutes")
    if _known_lockout(store, (pair, address), now):
        raise refused
    with store.sessions() as session:
        counts = {k: _recent_failures(session, k, now) for k in (pair, address, anywhere)}
        account = find_account(session, username)
        locked = [k for k in (pair, address) if counts[k] >= MAX_FAILURES]
        for k in locked:
            _remember_lockout(store, k, _locked_until(session, k, now), now)
    if locked:
        raise refused
    if counts[anywhere] >= MAX_FAILURES:
        time.sleep(ACCOUNT_DELAY_SECONDS)
    stored = account.password_hash if account is not None and account.active else None

    def check() -> bool | None:
        # an attempt that queued while its address got locked out is refused unhashed
        if _known_lockout(store, (pair, address), utcnow()):
            return None
        if stored is None:  # same work whether or not the name exists: timing tells nothing
            _hasher.hash(password)
            return False
        try:
            return _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    valid = _hashing_thread(check)
    if valid is None:
        raise refused
    if not valid or account is None:
        with store.transaction() as session:
            for k in (pair, address, anywhere):
                session.add(LoginFailure(key=k, at=now))
            known = account is not None
            audit.record(session, actor="anonymous", role="none", action="login.failed",
                         target=key, details={"client": client, "account_exists": known})
            starts = [scope for scope, k in (("account+address", pair), ("address", address))
                      if counts[k] + 1 == MAX_FAILURES]
            if starts:
                audit.record(session, actor="anonymous", role="none", action="login.lockout",
                             target=key, details={
                                 "client": client, "scope": starts[0],
                                 "until": (now + FAILURE_WINDOW).isoformat(timespec="seconds")})
            # attempts waiting for the hashing thread are refused from now on
            ends = {k: _locked_until(session, k, now) for k in (pair, address)
                    if counts[k] + 1 >= MAX_FAILURES}
        for k, until in ends.items():
            _remember_lockout(store, k, until, now)
        raise AccessError("wrong user name or password", status=401)
    rehashed = (_hashing_thread(lambda: _hasher.hash(password))
                if _hasher.check_needs_rehash(account.password_hash) else None)
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


def check_scopes(scopes: object) -> tuple[str, ...]:
    """``scopes`` as a sorted tuple of :data:`TOKEN_SCOPES` (one-line error otherwise).

    >>> check_scopes(["write", "read"])
    ('read', 'write')
    """
    if not isinstance(scopes, list | tuple | set | frozenset) or not scopes or not all(
            isinstance(x, str) and x in TOKEN_SCOPES for x in scopes):
        raise InputError(f"token scopes must be one or more of {', '.join(TOKEN_SCOPES)}")
    return tuple(sorted(set(scopes)))


def create_token(session: Session, account: Account, name: str,
                 scopes: tuple[str, ...] | list[str] = TOKEN_SCOPES, days: int = TOKEN_DAYS
                 ) -> str:
    """A new API token for ``account`` (shown once; only its hash is kept), valid ``days``
    days (at most :data:`MAX_TOKEN_DAYS`) for ``scopes``."""
    if not name.strip() or len(name) > 128:
        raise InputError("token name must be 1-128 characters")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InputError(f"a token is valid for 1 to {MAX_TOKEN_DAYS} days")
    allowed = check_scopes(scopes)
    token = "mh_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_sha256(token), account_id=account.id, name=name.strip(),
                         scopes=" ".join(allowed),
                         expires_at=utcnow() + dt.timedelta(days=days)))
    session.flush()
    return token


def principal_from_token(session: Session, token: str) -> Principal | None:
    """The principal of a bearer token, or ``None`` when unknown, revoked or expired."""
    row = session.execute(
        sa.select(ApiToken, Account).join(Account, Account.id == ApiToken.account_id)
        .where(ApiToken.token_hash == _sha256(token))).first()
    if row is None or row[0].revoked or not row[1].active:
        return None
    if row[0].expires_at is None or row[0].expires_at <= utcnow():
        return None
    return Principal(row[1].id, row[1].username, row[1].role, None, via="token",
                     scopes=frozenset(row[0].scopes.split()))
