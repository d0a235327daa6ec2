"""Stable keyed pseudonyms for the people molehunt watches, and redaction of free text.

A pseudonym is ``P-`` plus ten base-32 characters of HMAC-SHA256(key, user id): stable for a
workspace, unguessable without the key, and different between deployments with different
keys. The key lives in ``<workspace>/console/pseudonym.key`` (mode 0600), outside the
database, so a copy of the database alone does not link pseudonyms to people.

Log text is full of identities (mail addresses, names in ``cc`` lists, personal addresses made
of a name). :class:`Redactor` replaces every directory identity it recognises in a string by
the person's pseudonym before the string is shown to anyone without a reveal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from molehunt.errors import ConfigError

KEY_FILE = "pseudonym.key"
#: how many redacted strings are remembered before the memory starts over
REDACTION_CACHE = 200_000
_PSEUDONYM = re.compile(r"^P-[A-Z2-7]{10}$")


def load_or_create_key(folder: Path) -> bytes:
    """The workspace's pseudonym key, created (32 random bytes, mode 0600) on first use."""
    path = folder / KEY_FILE
    if path.exists():
        try:
            key = bytes.fromhex(path.read_text("ascii").strip())
        except (ValueError, OSError) as error:
            raise ConfigError(f"unreadable pseudonym key: {error}", where=str(path)) from None
        if len(key) < 16:
            raise ConfigError("pseudonym key is shorter than 16 bytes", where=str(path))
        return key
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex())
    return key


def pseudonym(key: bytes, user_id: str) -> str:
    """The pseudonym of ``user_id`` under ``key``.

    >>> pseudonym(b"k" * 32, "ACM2278")
    'P-BRETQ2MVDA'
    """
    digest = hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).digest()
    return "P-" + base64.b32encode(digest).decode("ascii")[:10]


def is_pseudonym(text: str) -> bool:
    """Whether ``text`` has the form of a pseudonym.

    >>> is_pseudonym("P-BRETQ2MVDA"), is_pseudonym("ACM2278")
    (True, False)
    """
    return bool(_PSEUDONYM.match(text))


@dataclass(frozen=True)
class Person:
    """What the directory says about one person (never shown without a reveal)."""

    user_id: str
    name: str | None = None
    email: str | None = None
    role: str | None = None
    department: str | None = None


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+")
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'-]*(?:[ .,_]+[A-Z][\w'-]*)+")
_TOKEN = re.compile(r"[A-Za-z0-9]+")


def _name_key(text: str) -> str:
    return " ".join(re.split(r"[ ._,]+", text.strip().lower()))


@dataclass
class Pseudonyms:
    """Pseudonyms of every known person, the way back (for audited reveals) and redaction."""

    key: bytes
    people: dict[str, Person] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._forward: dict[str, str] = {}
        self._back: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._local_parts: dict[str, str] = {}
        self._ids: dict[str, str] = {}
        #: redactions already made: log strings repeat (hosts, domains, file names) and the
        #: regular expressions are the person page's main cost; emptied when people are added
        self._redacted: dict[str, str] = {}
        for person in self.people.values():
            self._index(person)

    def _index(self, person: Person) -> str:
        alias = pseudonym(self.key, person.user_id)
        self._forward[person.user_id] = alias
        self._back[alias] = person.user_id
        self._ids[person.user_id.lower()] = alias
        if person.name and len(person.name.split()) >= 2:
            self._names[_name_key(person.name)] = alias
        if person.email and "@" in person.email:
            local = person.email.split("@", 1)[0].lower()
            self._local_parts[local] = alias
            self._names.setdefault(_name_key(local), alias)
        return alias

    def add(self, people: Iterable[Person]) -> None:
        """Learn more people (the directory may lag the logs)."""
        added = False
        for person in people:
            if person.user_id not in self._forward:
                self.people[person.user_id] = person
                self._index(person)
                added = True
        if added:
            self._redacted = {}

    def of(self, user_id: str) -> str:
        """The pseudonym of a user id (computed even for people the directory lacks)."""
        alias = self._forward.get(user_id)
        return alias if alias is not None else pseudonym(self.key, user_id)

    def user_id(self, alias: str) -> str | None:
        """The user id behind a pseudonym, for people the directory or the logs know."""
        return self._back.get(alias)

    def redact(self, text: str | None) -> str | None:
        """``text`` with every recognised identity replaced by a pseudonym.

        >>> p = Pseudonyms(b"k" * 32, {"ACM2278": Person("ACM2278", "Ann Carol Moss",
        ...                                              "Ann.Carol.Moss@dtaa.com")})
        >>> p.redact("to Ann.Carol.Moss@dtaa.com, ann.carol.moss@gmail.com; cc Ann Carol Moss")
        'to P-BRETQ2MVDA@dtaa.com, P-BRETQ2MVDA@gmail.com; cc P-BRETQ2MVDA'
        >>> p.redact("logon by ACM2278 on PC-1")
        'logon by P-BRETQ2MVDA on PC-1'
        """
        if not text:
            return text
        known = self._redacted.get(text)
        if known is not None:
            return known

        def email(match: re.Match[str]) -> str:
            local, _, domain = match.group(0).partition("@")
            alias = self._local_parts.get(local.lower()) or self._names.get(_name_key(local))
            return f"{alias}@{domain}" if alias else match.group(0)

        def names(match: re.Match[str]) -> str:
            run = match.group(0)
            alias = self._names.get(_name_key(run))
            if alias:
                return alias
            words = re.split(r"([ .,_]+)", run)  # words at even positions, separators odd
            tokens = words[0::2]
            for size in (4, 3, 2):
                for start in range(len(tokens) - size + 1):
                    candidate = " ".join(tokens[start:start + size]).lower()
                    alias = self._names.get(candidate)
                    if alias:
                        head = "".join(words[:2 * start])
                        tail = "".join(words[2 * (start + size) - 1:])
                        return head + alias + (names_in(tail) if tail else "")
            return run

        def names_in(text: str) -> str:
            return _CAPITALISED_RUN.sub(names, text)

        def ids(match: re.Match[str]) -> str:
            return self._ids.get(match.group(0).lower(), match.group(0))

        redacted = _EMAIL.sub(email, text)
        redacted = names_in(redacted)
        redacted = _TOKEN.sub(ids, redacted)
        cache = self._redacted
        if len(cache) >= REDACTION_CACHE:
            cache = self._redacted = {}
        cache[text] = redacted
        return redacted
