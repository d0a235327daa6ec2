"""Stable keyed pseudonyms for the people molehunt watches, and redaction of free text.

A pseudonym is ``P-`` plus ten base-32 characters of HMAC-SHA256(key, user id): stable for a
workspace, unguessable without the key, and different between deployments with different
keys. The key lives in ``<workspace>/console/pseudonym.key`` (mode 0600), outside the
database, so a copy of the database alone does not link pseudonyms to people.

Log text is full of identities (mail addresses, names in ``cc`` lists, personal addresses made
of a name, home folders, user names). :meth:`Pseudonyms.redact` replaces every directory
identity it recognises in a string by the person's pseudonym before the string is shown to
anyone without a reveal.
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


def host_pseudonym(key: bytes, host: str) -> str:
    """The pseudonym of a computer: one person's usual computer is as good as their name to
    anyone with the asset inventory.

    >>> host_pseudonym(b"k" * 32, "PC-1234")
    'H-STLMEMKFIP'
    """
    digest = hmac.new(key, b"host\x00" + host.encode("utf-8"), hashlib.sha256).digest()
    return "H-" + base64.b32encode(digest).decode("ascii")[:10]


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


#: a word of a log string: letters and digits of any script (``_`` separates, as in ``jsmith_adm``)
_WORD = re.compile(r"[^\W_]+")
#: what may stand between the words of one name: "Ann Carol Moss", "ann.carol.moss",
#: "Moss, Ann", "nina_zoe-jensen", "A. Moss" (not "@", "/" or "\\": a name does not span them)
_NAME_GAP = re.compile(r"[\s.,_'-]{1,3}")
#: a name form made of one derived word ("amoss", "annmoss") must be this long to be used:
#: shorter ones collide with ordinary words and ids
MIN_DERIVED_WORD = 5
#: shown for a name form that more than one person has: redacted, but not attributed
AMBIGUOUS = "[a name]"


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


@dataclass(frozen=True)
class _Form:
    """One way a person's identity is written, as the words it is made of."""

    alias: str
    #: an initial and a surname ("A. Moss", "a.moss"): only where the text marks the initial
    #: (a capital, or a dot after it), not "a moss garden"
    initial: bool = False
    #: the person's own identifier (user id, mail local part): it wins over a name form that
    #: another person's name happens to make ("jsmith" the user id over John Smith's "jsmith")
    exact: bool = False


def _name_forms(person: Person) -> Iterable[_Form]:
    """Every way of writing ``person``'s identity, keyed by its words (``_Form.alias`` holds
    the words here, joined by spaces; the caller puts the pseudonym in)."""
    def form(words: Iterable[str], initial: bool = False, exact: bool = False) -> _Form:
        return _Form(" ".join(words), initial, exact)

    yield form(_words(person.user_id), exact=True)
    if person.email and "@" in person.email:
        yield form(_words(person.email.split("@", 1)[0]), exact=True)
    words = _words(person.name or "")
    if len(words) < 2:
        return
    first, middle, last = words[0], words[1:-1], words[-1]
    initials = first[0] + "".join(m[0] for m in middle)
    yield form(words)                                   # Ann Carol Moss
    yield form((first, last))                           # Ann Moss
    yield form((last, first))                           # Moss, Ann
    yield form((last, first, *middle))                  # Moss, Ann Carol
    yield form((first[0], last), initial=True)          # A. Moss, a.moss
    yield form((*initials, last), initial=True)         # A. C. Moss
    yield form((initials, last), initial=True)          # AC Moss
    for derived in (first + last, first[0] + last, last + first[0], initials + last):
        if len(derived) >= MIN_DERIVED_WORD:
            yield form((derived,))                      # annmoss, amoss, mossa, acmoss


@dataclass
class Pseudonyms:
    """Pseudonyms of every known person, the way back (for audited reveals) and redaction."""

    key: bytes
    people: dict[str, Person] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._forward: dict[str, str] = {}
        self._back: dict[str, str] = {}
        #: every name form of every person, by its words (case-folded)
        self._forms: dict[tuple[str, ...], _Form] = {}
        self._hosts: dict[str, str] = {}
        self._host_back: dict[str, str] = {}
        self._longest = 1
        #: redactions already made: log strings repeat (hosts, domains, file names) and
        #: redaction is the person page's main cost; emptied when people are added
        self._redacted: dict[str, str] = {}
        #: bumped whenever a name or host is learned: text redacted before may read otherwise
        self.version = 0
        for person in self.people.values():
            self._index(person)

    def _index(self, person: Person) -> str:
        alias = pseudonym(self.key, person.user_id)
        self._forward[person.user_id] = alias
        self._back[alias] = person.user_id
        for form in _name_forms(person):
            words = tuple(form.alias.split())
            if not words:
                continue
            mine = _Form(alias, form.initial, form.exact)
            known = self._forms.get(words)
            if known is None or (mine.exact and not known.exact):
                self._forms[words] = mine
            elif known.alias != alias and known.exact == mine.exact:
                # two people share this form (two John Smiths): it is still a name
                self._forms[words] = _Form(AMBIGUOUS, known.initial and mine.initial,
                                           known.exact)
            self._longest = max(self._longest, len(words))
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
            self.version += 1

    def add_hosts(self, hosts: Iterable[str | None]) -> None:
        """Learn computer names, so that they are pseudonymised in free text too."""
        added = False
        for host in hosts:
            if not host or host in self._hosts:
                continue
            alias = host_pseudonym(self.key, host)
            self._hosts[host] = alias
            self._host_back[alias] = host
            words = tuple(_words(host))
            if words and (words not in self._forms or not self._forms[words].exact):
                self._forms[words] = _Form(alias, exact=True)
                self._longest = max(self._longest, len(words))
            added = True
        if added:
            self._redacted = {}
            self.version += 1

    def host(self, host: str | None) -> str | None:
        """The pseudonym of a computer name (learned from then on)."""
        if not host:
            return host
        self.add_hosts([host])
        return self._hosts[host]

    def host_of(self, alias: str) -> str | None:
        """The computer name behind a host pseudonym the console has shown."""
        return self._host_back.get(alias)

    def of(self, user_id: str) -> str:
        """The pseudonym of a user id (computed even for people the directory lacks)."""
        alias = self._forward.get(user_id)
        return alias if alias is not None else pseudonym(self.key, user_id)

    def user_id(self, alias: str) -> str | None:
        """The user id behind a pseudonym, for people the directory or the logs know."""
        return self._back.get(alias)

    def redact(self, text: str | None) -> str | None:
        """``text`` with every recognised identity replaced by a pseudonym.

        A person is recognised by their user id, their mail address's local part (at any
        domain) and their name written any usual way: in any case, with spaces, dots,
        underscores or hyphens between its words ("nina.zoe.jensen" in a home-folder path),
        without the middle names, surname first ("Moss, Ann"), with initials ("A. C. Moss"),
        or run together as user names are ("amoss", "annmoss"). A form that two people share
        is replaced by ``[a name]``. A first name or a surname alone is left as it is.

        >>> p = Pseudonyms(b"k" * 32, {"ACM2278": Person("ACM2278", "Ann Carol Moss",
        ...                                              "Ann.Carol.Moss@dtaa.com")})
        >>> p.redact("to Ann.Carol.Moss@dtaa.com, ann.carol.moss@gmail.com; cc Ann Carol Moss")
        'to P-BRETQ2MVDA@dtaa.com, P-BRETQ2MVDA@gmail.com; cc P-BRETQ2MVDA'
        >>> p.redact("logon by ACM2278 on PC-1")
        'logon by P-BRETQ2MVDA on PC-1'
        >>> p.redact("/home/ann.moss/plan.docx; Moss, Ann; a moss garden; A. Moss; amoss_adm")
        '/home/P-BRETQ2MVDA/plan.docx; P-BRETQ2MVDA; a moss garden; P-BRETQ2MVDA; P-BRETQ2MVDA_adm'
        """
        if not text:
            return text
        known = self._redacted.get(text)
        if known is not None:
            return known
        redacted = self._replace_names(text)
        cache = self._redacted
        if len(cache) >= REDACTION_CACHE:
            cache = self._redacted = {}
        cache[text] = redacted
        return redacted

    def _replace_names(self, text: str) -> str:
        spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        words = [text[a:b].casefold() for a, b in spans]
        out: list[str] = []
        done = 0
        index = 0
        while index < len(words):
            match = self._match_at(text, spans, words, index)
            if match is None:
                index += 1
                continue
            size, alias = match
            out.append(text[done:spans[index][0]])
            out.append(alias)
            done = spans[index + size - 1][1]
            index += size
        out.append(text[done:])
        return "".join(out)

    def _match_at(self, text: str, spans: list[tuple[int, int]], words: list[str],
                  index: int) -> tuple[int, str] | None:
        """The longest name form starting at word ``index``: its size in words and alias."""
        for size in range(min(self._longest, len(words) - index), 0, -1):
            form = self._forms.get(tuple(words[index:index + size]))
            if form is None:
                continue
            gaps = [text[spans[i][1]:spans[i + 1][0]] for i in range(index, index + size - 1)]
            if not all(_NAME_GAP.fullmatch(gap) for gap in gaps):
                continue
            if form.initial:
                initial = text[spans[index][0]:spans[index][1]]
                surname = text[spans[index + size - 1][0]:spans[index + size - 1][1]]
                marked = (initial.isupper() and surname[:1].isupper()) or gaps[0].startswith(".")
                if not marked:
                    continue
            return size, form.alias
        return None
