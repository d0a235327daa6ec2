"""Typed settings of a workspace.

Settings live in ``<workspace>/molehunt.toml``; every key is optional. Environment variables
override the workspace location (``MOLEHUNT_WORKSPACE``).

.. code-block:: toml

    company_domains = ["dtaa.com"]          # else inferred from the directory's e-mail addresses
    competitors = ["rival.example"]         # category "competitor" for web and e-mail
    domain_category_files = ["domains.csv"] # extra domain,category rows (relative to workspace)
    psychometric_enabled = false            # psychometric data is stored but never used unless true
    memory_limit = "2GB"                    # DuckDB memory limit for ingestion
    threads = 2
    encoding = "utf-8"                      # of CSV input files (BOMs are recognised)
    earliest_event = 1990-01-01             # events before this date are quarantined
    latest_event_days_ahead = 1             # ... and those more than this many days after ingest
    [encodings]                             # per layout name or file glob; the first match wins
    "cert.email.r6" = "gb18030"
    "*/mail/*.csv" = "gb18030"

    # protected content (see molehunt.content)
    company_names = ["DTAA", "Acme Power"]  # the company's own names: its markings are not foreign
    foreign_companies = ["Northwind Energy"] # other companies whose markings are always foreign
    content_default_sensitivity = 1         # of a protected document with no marking or rule
    content_source_code_sensitivity = 2     # source code is at least this sensitive
    content_min_hits = 2                    # fingerprints of a document a text must contain
    [content_codenames]                     # project code name → sensitivity (0-4)
    ATLAS = 4
    "凤凰" = 3
    [content_patterns]                      # regular expression → sensitivity (0-4)
    '(?i)\\bcell recipe\\b' = 3
    [sensitivity_labels]                    # a source's label (name or id) → sensitivity 0-4
    "Highly Confidential" = 3               # e.g. Microsoft Purview labels, by display name
    "f42aa342-8706-4288-bd11-ebb85995028c" = 4  # ... or by label id (as audit records carry)

    # detection (see molehunt.detectors and molehunt.scoring; in a real file the plain keys
    # go above the first [table])
    trusted_domains = ["analyst-firm.example"]   # outbound to these lowers a finding's score
    removable_media_roles = ["ITAdmin"]          # roles whose removable-media use is expected
    removable_media_users = ["u123"]             # people whose removable-media use is expected
    risk_half_life_days = 4.0                    # how fast accumulated risk fades
    alert_budget_per_1000 = 0.5                  # people at band high per 1,000 per day, at most
    alert_budget_days = 90                       # ... on average over this many days
    [detectors.after_hours_leaker]               # per-detector parameters; enabled = false
    min_after_hours_z = 4.0
"""

from __future__ import annotations

import codecs
import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from molehunt.errors import ConfigError

DEFAULT_WORKSPACE = Path("workspace")
SETTINGS_FILE = "molehunt.toml"


def workspace_from_env(explicit: Path | None = None) -> Path:
    """The workspace to use: the explicit path, else ``MOLEHUNT_WORKSPACE``, else ``./workspace``.

    >>> workspace_from_env(Path("/srv/ws"))
    PosixPath('/srv/ws')
    """
    if explicit is not None:
        return explicit
    from_env = os.environ.get("MOLEHUNT_WORKSPACE")
    return Path(from_env) if from_env else DEFAULT_WORKSPACE


@dataclass(frozen=True)
class Settings:
    """Settings of one workspace (see the module docstring for the file format)."""

    company_domains: tuple[str, ...] = ()
    competitors: tuple[str, ...] = ()
    domain_category_files: tuple[Path, ...] = ()
    psychometric_enabled: bool = False
    memory_limit: str = "2GB"
    threads: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 8)))
    company_names: tuple[str, ...] = ()
    foreign_companies: tuple[str, ...] = ()
    content_codenames: tuple[tuple[str, int], ...] = ()
    content_patterns: tuple[tuple[str, int], ...] = ()
    content_default_sensitivity: int = 1
    content_source_code_sensitivity: int = 2
    content_min_hits: int = 2
    #: A source's sensitivity label (display name or id, lower-cased) → level 0-4.
    sensitivity_labels: tuple[tuple[str, int], ...] = ()
    trusted_domains: tuple[str, ...] = ()
    removable_media_roles: tuple[str, ...] = ()
    removable_media_users: tuple[str, ...] = ()
    risk_half_life_days: float = 4.0
    #: Band high is reserved for the population's highest risks: at most this many people per
    #: 1,000 per day, on average over the last ``alert_budget_days`` (0 = no budget).
    alert_budget_per_1000: float = 0.5
    alert_budget_days: int = 90
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)
    #: Text encoding of CSV input files, and per layout name or file glob (first match wins).
    encoding: str = "utf-8"
    encodings: tuple[tuple[str, str], ...] = ()
    #: Events outside ``earliest_event`` … ingest time + ``latest_event_days_ahead`` days are
    #: quarantined as implausible.
    earliest_event: date = date(1990, 1, 1)
    latest_event_days_ahead: int = 1

    def encoding_for(self, path: Path, layout: str) -> str:
        """The encoding of one input file: the first ``[encodings]`` key that is its layout's
        name or a glob matching its name or path, else ``encoding``.

        >>> Settings(encodings=(("*/mail/*.csv", "gb18030"),)).encoding_for(
        ...     Path("/d/mail/email.csv"), "cert.email.r6")
        'gb18030'
        """
        for key, encoding in self.encodings:
            if key == layout or fnmatch.fnmatchcase(path.name, key) or fnmatch.fnmatchcase(
                    path.as_posix(), key):
                return encoding
        return self.encoding

    @classmethod
    def load(cls, workspace: Path) -> Settings:
        """Read ``molehunt.toml`` from ``workspace`` (defaults when it does not exist)."""
        path = workspace / SETTINGS_FILE
        if not path.exists():
            return cls()
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read settings: {error}", where=str(path)) from error
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"unknown settings {sorted(unknown)}", where=str(path))

        def strings(key: str) -> tuple[str, ...]:
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{key} must be a list of strings", where=str(path))
            return tuple(value)

        threads = raw.get("threads", cls().threads)
        if not isinstance(threads, int) or threads < 1:
            raise ConfigError("threads must be a positive integer", where=str(path))

        def level(key: str, default: int) -> int:
            value = raw.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 4:
                raise ConfigError(f"{key} must be a sensitivity from 0 to 4", where=str(path))
            return value

        def levels(key: str, patterns: bool) -> tuple[tuple[str, int], ...]:
            table = raw.get(key, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{key} must be a table of name = sensitivity",
                                  where=str(path))
            pairs = []
            for name, value in table.items():
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 4:
                    raise ConfigError(f"{key}.{name}: sensitivity must be 0 to 4",
                                      where=str(path))
                if patterns:
                    try:
                        re.compile(name)
                    except re.error as error:
                        raise ConfigError(f"{key}: bad regular expression {name!r}: {error}",
                                          where=str(path)) from None
                pairs.append((str(name), value))
            return tuple(pairs)

        detectors = raw.get("detectors", {})
        if not isinstance(detectors, dict) or not all(
                isinstance(v, dict) for v in detectors.values()):
            raise ConfigError("detectors must be tables [detectors.<name>]", where=str(path))
        half_life = raw.get("risk_half_life_days", 4.0)
        if not isinstance(half_life, int | float) or isinstance(half_life, bool) or half_life <= 0:
            raise ConfigError("risk_half_life_days must be a positive number", where=str(path))
        budget = raw.get("alert_budget_per_1000", cls.alert_budget_per_1000)
        if not isinstance(budget, int | float) or isinstance(budget, bool) or budget < 0:
            raise ConfigError("alert_budget_per_1000 must be a number, 0 or more",
                              where=str(path))
        budget_days = raw.get("alert_budget_days", cls.alert_budget_days)
        if not isinstance(budget_days, int) or isinstance(budget_days, bool) or budget_days < 1:
            raise ConfigError("alert_budget_days must be a positive integer", where=str(path))
        def codec(key: str, value: object) -> str:
            if not isinstance(value, str):
                raise ConfigError(f"{key} must be the name of a text encoding", where=str(path))
            try:
                codecs.lookup(value)
            except LookupError:
                raise ConfigError(f"{key}: unknown encoding {value!r}", where=str(path)) from None
            return value

        encodings = raw.get("encodings", {})
        if not isinstance(encodings, dict):
            raise ConfigError("encodings must be a table of layout or glob = encoding",
                              where=str(path))
        earliest = raw.get("earliest_event", cls.earliest_event)
        if isinstance(earliest, datetime) or not isinstance(earliest, date):
            raise ConfigError("earliest_event must be a date (YYYY-MM-DD)", where=str(path))
        ahead = raw.get("latest_event_days_ahead", cls.latest_event_days_ahead)
        if not isinstance(ahead, int) or isinstance(ahead, bool) or not 0 <= ahead <= 36_500:
            # a century ahead at most: a wider window would let a year-9999 row in
            raise ConfigError("latest_event_days_ahead must be a whole number from 0 to 36500",
                              where=str(path))
        min_hits = raw.get("content_min_hits", 2)
        if not isinstance(min_hits, int) or min_hits < 1:
            raise ConfigError("content_min_hits must be a positive integer", where=str(path))
        return cls(
            company_domains=tuple(d.lower() for d in strings("company_domains")),
            competitors=tuple(d.lower() for d in strings("competitors")),
            domain_category_files=tuple(
                workspace / p for p in strings("domain_category_files")
            ),
            psychometric_enabled=bool(raw.get("psychometric_enabled", False)),
            memory_limit=str(raw.get("memory_limit", "2GB")),
            threads=threads,
            company_names=strings("company_names"),
            foreign_companies=strings("foreign_companies"),
            content_codenames=levels("content_codenames", patterns=False),
            content_patterns=levels("content_patterns", patterns=True),
            content_default_sensitivity=level("content_default_sensitivity", 1),
            content_source_code_sensitivity=level("content_source_code_sensitivity", 2),
            content_min_hits=min_hits,
            sensitivity_labels=tuple((name.lower(), value) for name, value
                                     in levels("sensitivity_labels", patterns=False)),
            trusted_domains=tuple(d.lower() for d in strings("trusted_domains")),
            removable_media_roles=strings("removable_media_roles"),
            removable_media_users=strings("removable_media_users"),
            risk_half_life_days=float(half_life),
            alert_budget_per_1000=float(budget),
            alert_budget_days=budget_days,
            detectors={str(k): dict(v) for k, v in detectors.items()},
            encoding=codec("encoding", raw.get("encoding", "utf-8")),
            encodings=tuple((str(k), codec(f"encodings.{k}", v)) for k, v in encodings.items()),
            earliest_event=earliest,
            latest_event_days_ahead=ahead,
        )
