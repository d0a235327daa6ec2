"""Typed settings of a workspace.

Settings live in ``<workspace>/molehunt.toml``; every key is optional. Environment variables
override the workspace location (``MOLEHUNT_WORKSPACE``). :meth:`Settings.load` checks every
key's type and bounds and names the key in its :class:`~molehunt.errors.ConfigError`: unknown
keys (with a "did you mean"), ``threads`` from 1 to :func:`max_threads`, booleans only
``true``/``false``, ``memory_limit`` as :func:`check_memory_limit` reads it.
``molehunt config check`` prints the effective settings (:meth:`Settings.to_toml`).

.. code-block:: toml

    company_domains = ["dtaa.com"]          # else inferred from the directory's e-mail addresses
    competitors = ["rival.example"]         # category "competitor" for web and e-mail
    domain_category_files = ["domains.csv"] # extra domain,category rows (relative to workspace)
    psychometric_enabled = false            # psychometric data is stored but never used unless true
    memory_limit = "2GB"                    # DuckDB memory limit for ingestion (or "50%")
    threads = 2                             # 1 to 4 per core of the machine
    encoding = "utf-8"                      # of CSV input files (BOMs are recognised)
    earliest_event = 1990-01-01             # events before this date are quarantined
    latest_event_days_ahead = 1             # ... and those more than this many days after ingest
    [encodings]                             # per layout name or file glob; the first match wins
    "cert.email.r6" = "gb18030"
    "*/mail/*.csv" = "gb18030"
    [hr_csv]                                # an HR system's CSV: field = its column's header
    person = "Work Email"                   # (fields: molehunt.config.HR_CSV_FIELDS)
    date = "Event Date"
    kind = "Event"
    leave_date = "Last Day"
    [hr_csv_kinds]                          # a value of the kind column → an hr_events kind
    "Voluntary Resignation" = "resignation_notice"
    [proxy_zscaler]                         # Zscaler NSS web feed: field = its JSON key
    user = "login"                          # (fields and defaults:
    bytes_sent = "reqsize"                  #  molehunt.sources.web_proxy.ZSCALER_FIELDS)

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
    # console
    console_min_group = 5                        # role, department shown only for groups this big
    [detectors.after_hours_leaker]               # per-detector parameters; enabled = false
    min_after_hours_z = 4.0
    # collection (molehunt pull; see molehunt.collect.settings): never a secret itself here
    [pull.m365]
    tenant_id = "4b2f7c1e-0d5a-4f3e-9a61-3c8e2b7d9f10"
    client_id = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    client_secret_env = "MOLEHUNT_M365_SECRET"
    [pull.gworkspace]
    credentials_file = "/etc/molehunt/reports-reader.json"
    delegated_admin = "audit-reader@corp.example"
"""

from __future__ import annotations

import codecs
import difflib
import fnmatch
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from molehunt.errors import ConfigError
from molehunt.schema import HR_EVENT_KINDS

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


#: Units of ``memory_limit`` (as DuckDB reads them, case-insensitive) → bytes.
MEMORY_UNITS: dict[str, int] = {
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+|%)\s*$", re.IGNORECASE)
#: The smallest ``memory_limit`` accepted, in bytes.
MIN_MEMORY_LIMIT = 1000**2


def max_threads() -> int:
    """The most ``threads`` a workspace may ask for: four per core of this machine."""
    return 4 * (os.cpu_count() or 1)


def check_memory_limit(value: object) -> str:
    """``value`` if it is a memory size DuckDB reads (a number and a unit: ``2GB``,
    ``512 MiB``; or a percentage of the machine's memory: ``50%``) of at least 1 MB, else a
    :class:`ValueError` that says what is expected.

    >>> check_memory_limit("1.5 GiB")
    '1.5 GiB'
    >>> check_memory_limit("lots")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: must be a size such as "2GB" or "512MiB" (units ...) ..., not "lots"
    """
    expected = ('must be a size such as "2GB" or "512MiB" (units KB, MB, GB, TB, KiB, MiB, GiB,'
                ' TiB) or a percentage of the memory such as "50%"')
    found = _MEMORY.match(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"{expected}, not {_shown(value)}")
    number, unit = float(found.group(1)), found.group(2).lower()
    if unit == "%":
        if not 0 < number <= 100:
            raise ValueError(f"as a percentage must be above 0 and at most 100,"
                             f" not {_shown(value)}")
        return str(value)
    if unit not in MEMORY_UNITS:
        raise ValueError(f"{expected}, not {_shown(value)}")
    if number * MEMORY_UNITS[unit] < MIN_MEMORY_LIMIT:
        raise ValueError(f"must be at least 1MB, not {_shown(value)}")
    return str(value)


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key)


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
    #: The console shows a person's role and department only where at least this many people
    #: share them (k-anonymity: "Director · Cell Production" may be one person).
    console_min_group: int = 5
    #: The generic HR CSV (``hr.csv``): field (:data:`HR_CSV_FIELDS`) → its column's header.
    hr_csv: tuple[tuple[str, str], ...] = ()
    #: A value of its kind column (lower-cased) → an ``hr_events`` kind.
    hr_csv_kinds: tuple[tuple[str, str], ...] = ()
    #: The Zscaler NSS web feed (``proxy.zscaler``): field → the key of the feed's JSON
    #: holding it, over the default map of the feed Zscaler documents.
    proxy_zscaler: tuple[tuple[str, str], ...] = ()
    #: ``[pull.<service>]`` tables of ``molehunt pull`` as written (checked at load; read
    #: through :func:`molehunt.collect.m365_settings` and ``gworkspace_settings``).
    pull: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)

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

    def to_toml(self) -> str:
        """Every setting, defaults included, as the text of a ``molehunt.toml`` that loads
        to the same settings (plain keys first, then the tables).

        >>> "threads = 2" in Settings(threads=2).to_toml().splitlines()
        True
        """
        plain: list[str] = []
        tables: list[str] = []
        pair_tables = {"content_codenames", "content_patterns", "sensitivity_labels",
                       "encodings", "hr_csv", "hr_csv_kinds", "proxy_zscaler"}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name in pair_tables:
                tables.append(f"\n[{name}]")
                tables += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value]
            elif name in ("detectors", "pull"):
                for item, params in sorted(value.items()):
                    tables.append(f"\n[{name}.{_toml_key(item)}]")
                    tables += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in params.items()]
            else:
                plain.append(f"{name} = {_toml_value(value)}")
        return "\n".join(plain + tables) + "\n"

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
        known = sorted(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - set(known))
        if unknown:
            listed = ", ".join(_suggest(key, known) for key in unknown)
            raise ConfigError(f"unknown setting{'s' if len(unknown) > 1 else ''} {listed}",
                              where=str(path))

        def strings(key: str) -> tuple[str, ...]:
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{key} must be a list of strings", where=str(path))
            return tuple(value)

        threads = raw.get("threads", cls().threads)
        most = max_threads()
        if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= most:
            raise ConfigError(f"threads must be a whole number from 1 to {most} (4 per core,"
                              f" {os.cpu_count() or 1} cores here), not {_shown(threads)}",
                              where=str(path))

        def boolean(key: str, value: object) -> bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{key} must be true or false (without quotes), not"
                                  f" {_shown(value)}", where=str(path))
            return value

        try:
            memory_limit = check_memory_limit(raw.get("memory_limit", "2GB"))
        except ValueError as error:
            raise ConfigError(f"memory_limit {error}", where=str(path)) from None

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
        for name, params in detectors.items():
            if "enabled" in params:
                boolean(f"detectors.{name}.enabled", params["enabled"])
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
        min_group = raw.get("console_min_group", cls.console_min_group)
        if not isinstance(min_group, int) or isinstance(min_group, bool) or not (
                1 <= min_group <= 10_000):
            raise ConfigError("console_min_group must be a whole number from 1 to 10000",
                              where=str(path))
        hr_csv, hr_csv_kinds = _hr_csv(raw, path)
        min_hits = raw.get("content_min_hits", 2)
        if not isinstance(min_hits, int) or isinstance(min_hits, bool) or min_hits < 1:
            raise ConfigError("content_min_hits must be a positive integer", where=str(path))
        return cls(
            company_domains=tuple(d.lower() for d in strings("company_domains")),
            competitors=tuple(d.lower() for d in strings("competitors")),
            domain_category_files=tuple(
                workspace / p for p in strings("domain_category_files")
            ),
            psychometric_enabled=boolean("psychometric_enabled",
                                         raw.get("psychometric_enabled", False)),
            memory_limit=memory_limit,
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
            console_min_group=min_group,
            hr_csv=hr_csv,
            hr_csv_kinds=hr_csv_kinds,
            proxy_zscaler=_proxy_zscaler(raw, path),
            pull=_pull(raw, workspace, path),
        )


#: Fields of the generic HR CSV's column map (``[hr_csv]``): the person (an e-mail address,
#: UPN or directory user id), the date of the event and its kind are required.
HR_CSV_FIELDS: dict[str, str] = {
    "person": "e-mail address, UPN or user id of the person (required)",
    "date": "date (and time) of the event (required)",
    "kind": "what happened: an hr_events kind, or a value mapped in [hr_csv_kinds] (required)",
    "leave_date": "a resignation's last working day",
    "department": "the department (a layoff's group)",
    "days": "a trip's length in days",
    "remarks": "free text kept with the event",
}


def _hr_csv(raw: dict[str, Any], path: Path
            ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """``[hr_csv]`` and ``[hr_csv_kinds]``, checked: known fields, text values, the required
    fields present, kinds that ``hr_events`` has."""
    columns = raw.get("hr_csv", {})
    kinds = raw.get("hr_csv_kinds", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) and v.strip()
                                                for v in columns.values()):
        raise ConfigError("hr_csv must be a table of field = column header", where=str(path))
    unknown = sorted(set(columns) - set(HR_CSV_FIELDS))
    if unknown:
        listed = ", ".join(_suggest(key, sorted(HR_CSV_FIELDS)) for key in unknown)
        raise ConfigError(f"hr_csv: unknown field {listed}", where=str(path))
    missing = [f for f in ("person", "date", "kind") if f not in columns]
    if columns and missing:
        raise ConfigError(f"hr_csv: {', '.join(missing)} must be given (the column that holds"
                          " it)", where=str(path))
    if not isinstance(kinds, dict):
        raise ConfigError("hr_csv_kinds must be a table of value = kind", where=str(path))
    for value, kind in kinds.items():
        if kind not in HR_EVENT_KINDS:
            raise ConfigError(f"hr_csv_kinds.{value}: {_shown(kind)} is not a kind of"
                              f" hr_events ({', '.join(sorted(HR_EVENT_KINDS))})",
                              where=str(path))
    return (tuple((str(k), str(v)) for k, v in columns.items()),
            tuple((str(k).strip().lower(), str(v)) for k, v in kinds.items()))


def _proxy_zscaler(raw: dict[str, Any], path: Path) -> tuple[tuple[str, str], ...]:
    """``[proxy_zscaler]``, checked: known fields (those of the Zscaler layout's map), each
    naming a JSON key."""
    from molehunt.sources.web_proxy import ZSCALER_FIELD_MEANINGS

    table = raw.get("proxy_zscaler", {})
    if not isinstance(table, dict) or not all(isinstance(v, str) and v.strip()
                                              for v in table.values()):
        raise ConfigError("proxy_zscaler must be a table of field = JSON key", where=str(path))
    unknown = sorted(set(table) - set(ZSCALER_FIELD_MEANINGS))
    if unknown:
        listed = ", ".join(_suggest(key, sorted(ZSCALER_FIELD_MEANINGS)) for key in unknown)
        raise ConfigError(f"proxy_zscaler: unknown field {listed}", where=str(path))
    return tuple((str(k), str(v).strip()) for k, v in table.items())


def _pull(raw: dict[str, Any], workspace: Path, path: Path) -> dict[str, dict[str, Any]]:
    """``[pull.m365]`` and ``[pull.gworkspace]``, checked (each key's type and bounds, no
    secret written in the file)."""
    from molehunt.collect.settings import check_pull_tables

    return check_pull_tables(raw.get("pull", {}), workspace, str(path))


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml_value(value: object) -> str:
    """One value in TOML (strings in JSON's escapes, which TOML's basic strings share)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | date):
        return value.isoformat() if isinstance(value, date) else repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _shown(value: object) -> str:
    """A setting's value as it is written in TOML, for error messages."""
    try:
        return _toml_value(value)
    except TypeError:
        return repr(value)
