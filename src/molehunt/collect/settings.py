"""The ``[pull.m365]`` and ``[pull.gworkspace]`` tables of ``molehunt.toml``, checked.

A secret never sits in ``molehunt.toml`` (the file is read by everyone who runs molehunt and
tends to end up in version control): the table names an environment variable or a file that
holds it, and it is read only when a pull starts. Relative paths are relative to the
workspace, as ``domain_category_files`` are.

.. code-block:: toml

    [pull.m365]
    tenant_id = "4b2f7c1e-0d5a-4f3e-9a61-3c8e2b7d9f10"
    client_id = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    client_secret_env = "MOLEHUNT_M365_SECRET"   # or client_secret_file, client_certificate_file
    # content_types = ["Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint",
    #                  "Audit.General"]
    # api_url = "https://manage.office365.us"              # GCC High (default manage.office.com)
    # authority_host = "https://login.microsoftonline.us"  # GCC High

    [pull.gworkspace]
    credentials_file = "/etc/molehunt/reports-reader.json"  # the service account's key
    delegated_admin = "audit-reader@corp.example"          # the admin it acts as
    # customer_id = "C03az79cb"
    # applications = ["drive", "login", "token", "gmail"]
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molehunt.errors import ConfigError

#: Content types of the Office 365 Management Activity API.
M365_CONTENT_TYPES = ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint",
                      "Audit.General", "DLP.All")
#: What is pulled unless ``content_types`` says otherwise. ``DLP.All`` (policy matches with the
#: sensitive data found) needs a further permission, ActivityFeed.ReadDlp; Endpoint DLP's
#: device events (removable media, printing, cloud upload) come in ``Audit.General``.
M365_DEFAULT_CONTENT_TYPES = M365_CONTENT_TYPES[:4]
#: Applications of the Reports API that :mod:`molehunt.sources.google_workspace` maps.
GWORKSPACE_DEFAULT_APPLICATIONS = ("drive", "login", "token", "gmail")
#: Windows divide a day evenly, so that their files fall on day boundaries.
WINDOW_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_APPLICATION = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Connection:
    """How to talk to a service: TLS trust, patience and retries."""

    #: A PEM file of certificate authorities to trust instead of the system's (a TLS-
    #: inspecting proxy's own CA, or a test server's).
    ca_bundle: Path | None = None
    #: Seconds to wait for a connection or for the next bytes of a response.
    timeout: float = 60.0
    #: Retries of one request after HTTP 429, 5xx or a dropped connection.
    max_retries: int = 5
    #: The longest ``Retry-After`` obeyed; a longer one ends the run (run it again later).
    max_retry_after: float = 300.0


@dataclass(frozen=True)
class Secret:
    """Where the M365 app's credential is: an environment variable or a file holding the
    client secret, or a PEM file with the certificate and its private key."""

    kind: str  # "env" | "file" | "certificate"
    source: str  # the variable's name or the file's path

    def describe(self) -> str:
        """Where the credential comes from, in words (never the credential itself).

        >>> Secret("env", "M365_SECRET").describe()
        'the environment variable M365_SECRET'
        """
        if self.kind == "env":
            return f"the environment variable {self.source}"
        return f"the file {self.source}"


@dataclass(frozen=True)
class M365PullSettings:
    """``[pull.m365]``: an Entra ID app with the application permission ActivityFeed.Read of
    the Office 365 Management APIs."""

    tenant_id: str
    client_id: str
    secret: Secret
    content_types: tuple[str, ...] = M365_DEFAULT_CONTENT_TYPES
    #: The Management Activity API's root: manage.office.com (enterprise),
    #: manage-gcc.office.com (GCC), manage.office365.us (GCC High),
    #: manage.protection.apps.mil (DoD).
    api_url: str = "https://manage.office.com"
    #: Microsoft Entra ID's login host: login.microsoftonline.com, login.microsoftonline.us
    #: for GCC High and DoD.
    authority_host: str = "https://login.microsoftonline.com"
    #: The token's resource (``<resource>/.default``); the API's root unless set.
    resource: str | None = None
    #: ``PublisherIdentifier`` of every request (the tenant's own quota); the tenant id unless
    #: set.
    publisher_id: str | None = None
    window_hours: int = 24
    #: A run starts this much before where the last one ended, skipping content blobs it
    #: already fetched, so that a blob Microsoft lists late is still fetched.
    overlap_minutes: int = 60
    #: How far back a first run (no checkpoint, no ``--from``) goes: at most the 7 days the
    #: API lists.
    initial_days: int = 7
    #: Start the subscription of a content type that has none (or a disabled one).
    start_subscriptions: bool = True
    connection: Connection = Connection()

    @property
    def token_scope(self) -> str:
        """The scope of the app-only token, ``<resource>/.default``."""
        return f"{self.resource or self.api_url}/.default"

    @property
    def publisher(self) -> str:
        """The ``PublisherIdentifier`` sent with every request."""
        return self.publisher_id or self.tenant_id


@dataclass(frozen=True)
class GWorkspacePullSettings:
    """``[pull.gworkspace]``: a service account with domain-wide delegation of the scope
    ``https://www.googleapis.com/auth/admin.reports.audit.readonly``, acting as an admin."""

    credentials_file: Path
    delegated_admin: str
    customer_id: str | None = None
    applications: tuple[str, ...] = GWORKSPACE_DEFAULT_APPLICATIONS
    api_url: str = "https://admin.googleapis.com"
    window_hours: int = 24
    #: A run pulls only up to this long before now: Google makes activities available with a
    #: lag (minutes to a few hours, depending on the application).
    lag_minutes: int = 180
    #: How far back a first run (no checkpoint, no ``--from``) goes: at most the 180 days
    #: the API keeps.
    initial_days: int = 7
    #: ``maxResults`` of each page (the API allows 1 to 1000).
    page_size: int = 1000
    connection: Connection = Connection()


class _Table:
    """One ``[pull.<service>]`` table, read key by key with errors that name the key."""

    def __init__(self, table: Mapping[str, Any], prefix: str, where: str, workspace: Path,
                 known: set[str]) -> None:
        self.table, self.prefix, self.where, self.workspace = table, prefix, where, workspace
        unknown = sorted(set(table) - known)
        if unknown:
            listed = ", ".join(_suggest(key, sorted(known)) for key in unknown)
            raise ConfigError(f"{prefix}: unknown setting{'s' if len(unknown) > 1 else ''}"
                              f" {listed}", where=where)

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.prefix}.{key} {message}", where=self.where)

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.table.get(key, default)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "must be given as a non-empty string" if value is None
                             else "must be a non-empty string")
        return value.strip()

    def url(self, key: str, default: str) -> str:
        value = self.text(key, default)
        assert value is not None
        if not re.match(r"^https://[^/\s?#]+(/[^\s?#]*)?$", value):
            # an access token must never travel in clear text
            raise self.error(key, f"must be an https:// URL, not {value!r}")
        return value.rstrip("/")

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.error(key, f"must be a whole number from {low} to {high}, not {value!r}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.table.get(key, default)
        if (not isinstance(value, int | float) or isinstance(value, bool)
                or not low <= value <= high):
            raise self.error(key, f"must be a number from {low:g} to {high:g}, not {value!r}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false (without quotes), not {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.table.get(key, list(default))
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, str) and v.strip() for v in value)):
            raise self.error(key, "must be a non-empty list of strings")
        return tuple(dict.fromkeys(v.strip() for v in value))

    def path(self, key: str, required: bool = False) -> Path | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.workspace / path

    def window_hours(self, default: int) -> int:
        value = self.table.get("window_hours", default)
        if value not in WINDOW_HOURS or isinstance(value, bool):
            raise self.error("window_hours", "must divide a day: one of "
                             f"{', '.join(map(str, WINDOW_HOURS))}, not {value!r}")
        return int(value)

    def connection(self) -> Connection:
        return Connection(
            ca_bundle=self.path("ca_bundle"),
            timeout=self.number("timeout_seconds", 60.0, 1.0, 3600.0),
            max_retries=self.integer("max_retries", 5, 0, 20),
            max_retry_after=self.number("max_retry_after_seconds", 300.0, 0.0, 86_400.0),
        )


_CONNECTION_KEYS = {"ca_bundle", "timeout_seconds", "max_retries", "max_retry_after_seconds"}
_M365_KEYS = {"tenant_id", "client_id", "client_secret_env", "client_secret_file",
              "client_certificate_file", "content_types", "api_url", "authority_host",
              "resource", "publisher_id", "window_hours", "overlap_minutes", "initial_days",
              "start_subscriptions", *_CONNECTION_KEYS}
_GWORKSPACE_KEYS = {"credentials_file", "delegated_admin", "customer_id", "applications",
                    "api_url", "window_hours", "lag_minutes", "initial_days", "page_size",
                    *_CONNECTION_KEYS}
#: Keys that would hold a secret itself: refused with a pointer to the safe keys.
_SECRET_KEYS = {"client_secret", "secret", "password", "private_key", "credentials"}


def m365_pull_settings(table: Mapping[str, Any], workspace: Path, where: str
                       ) -> M365PullSettings:
    """``[pull.m365]`` checked; a :class:`ConfigError` names the key that is wrong.

    >>> s = m365_pull_settings({"tenant_id": "4b2f7c1e-0d5a-4f3e-9a61-3c8e2b7d9f10",
    ...     "client_id": "app", "client_secret_env": "M365_SECRET"}, Path("/ws"), "molehunt.toml")
    >>> s.token_scope, s.secret.describe()
    ('https://manage.office.com/.default', 'the environment variable M365_SECRET')
    >>> m365_pull_settings({"tenant_id": "4b2f7c1e-0d5a-4f3e-9a61-3c8e2b7d9f10",
    ...     "client_id": "app", "client_secret": "hunter2"}, Path("/ws"), "molehunt.toml")
    Traceback (most recent call last):
    ...
    molehunt.errors.ConfigError: molehunt.toml: pull.m365.client_secret: a secret must not be \
written in molehunt.toml; name an environment variable (client_secret_env) or a file \
(client_secret_file, client_certificate_file) that holds it
    """
    _refuse_secrets(table, "pull.m365", where, "an environment variable (client_secret_env) or"
                    " a file (client_secret_file, client_certificate_file)")
    reader = _Table(table, "pull.m365", where, workspace, _M365_KEYS)
    tenant = reader.text("tenant_id", required=True)
    assert tenant is not None
    if not _GUID.match(tenant):
        # the API's root URL takes the tenant's GUID; a domain name fails only later (AF20013)
        raise reader.error("tenant_id", f"must be the tenant's GUID (Entra ID → Overview →"
                           f" Tenant ID), not {tenant!r}")
    client = reader.text("client_id", required=True)
    assert client is not None
    given = [k for k in ("client_secret_env", "client_secret_file", "client_certificate_file")
             if k in table]
    if len(given) != 1:
        raise ConfigError("pull.m365: give exactly one of client_secret_env (an environment"
                          " variable holding the client secret), client_secret_file (a file"
                          " holding it) or client_certificate_file (a PEM file with the"
                          " certificate and its private key)"
                          + (f", not {' and '.join(given)}" if given else ""), where=where)
    if given[0] == "client_secret_env":
        name = reader.text("client_secret_env", required=True)
        assert name is not None
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise reader.error("client_secret_env", f"must be the name of an environment"
                               f" variable, not {name!r}")
        secret = Secret("env", name)
    else:
        path = reader.path(given[0], required=True)
        secret = Secret("file" if given[0] == "client_secret_file" else "certificate",
                        str(path))
    content_types = reader.strings("content_types", M365_DEFAULT_CONTENT_TYPES)
    for content_type in content_types:
        if content_type not in M365_CONTENT_TYPES:
            close = difflib.get_close_matches(content_type, M365_CONTENT_TYPES, n=1)
            raise reader.error("content_types", f"has {content_type!r}, which is not a content"
                               f" type of the Management Activity API"
                               + (f" (did you mean {close[0]!r}?)" if close else
                                  f" ({', '.join(M365_CONTENT_TYPES)})"))
    resource = reader.text("resource")
    return M365PullSettings(
        tenant_id=tenant.lower(), client_id=client, secret=secret, content_types=content_types,
        api_url=reader.url("api_url", M365PullSettings.api_url),
        authority_host=reader.url("authority_host", M365PullSettings.authority_host),
        resource=resource.rstrip("/") if resource else None,
        publisher_id=reader.text("publisher_id"),
        window_hours=reader.window_hours(24),
        overlap_minutes=reader.integer("overlap_minutes", 60, 0, 24 * 60),
        initial_days=reader.integer("initial_days", 7, 1, 7),
        start_subscriptions=reader.boolean("start_subscriptions", True),
        connection=reader.connection(),
    )


def gworkspace_pull_settings(table: Mapping[str, Any], workspace: Path, where: str
                             ) -> GWorkspacePullSettings:
    """``[pull.gworkspace]`` checked; a :class:`ConfigError` names the key that is wrong.

    >>> s = gworkspace_pull_settings({"credentials_file": "keys/reader.json",
    ...     "delegated_admin": "audit@corp.example"}, Path("/ws"), "molehunt.toml")
    >>> str(s.credentials_file), s.applications
    ('/ws/keys/reader.json', ('drive', 'login', 'token', 'gmail'))
    """
    _refuse_secrets(table, "pull.gworkspace", where,
                    "the service account's key file (credentials_file)")
    reader = _Table(table, "pull.gworkspace", where, workspace, _GWORKSPACE_KEYS)
    key_file = reader.path("credentials_file", required=True)
    assert key_file is not None
    admin = reader.text("delegated_admin", required=True)
    assert admin is not None
    if "@" not in admin:
        raise reader.error("delegated_admin", f"must be the e-mail address of the administrator"
                           f" the service account acts as, not {admin!r}")
    applications = reader.strings("applications", GWORKSPACE_DEFAULT_APPLICATIONS)
    for application in applications:
        if not _APPLICATION.match(application):
            raise reader.error("applications", f"has {application!r}, which is not an"
                               " application name of the Reports API (drive, login, ...)")
    return GWorkspacePullSettings(
        credentials_file=key_file, delegated_admin=admin,
        customer_id=reader.text("customer_id"), applications=applications,
        api_url=reader.url("api_url", GWorkspacePullSettings.api_url),
        window_hours=reader.window_hours(24),
        lag_minutes=reader.integer("lag_minutes", 180, 0, 7 * 24 * 60),
        initial_days=reader.integer("initial_days", 7, 1, 180),
        page_size=reader.integer("page_size", 1000, 1, 1000),
        connection=reader.connection(),
    )


#: ``[pull.<service>]`` → its checker.
SERVICES = {"m365": m365_pull_settings, "gworkspace": gworkspace_pull_settings}


def check_pull_tables(raw: object, workspace: Path, where: str) -> dict[str, dict[str, Any]]:
    """The ``[pull]`` table of ``molehunt.toml``: each service's table checked, returned as
    it was written (for :meth:`molehunt.config.Settings.to_toml`).

    >>> check_pull_tables({"m365": {"tenant": "x"}}, Path("/ws"), "molehunt.toml")
    Traceback (most recent call last):
    ...
    molehunt.errors.ConfigError: molehunt.toml: pull.m365: unknown setting 'tenant' \
(did you mean 'tenant_id'?)
    """
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ConfigError("pull must be tables [pull.m365], [pull.gworkspace]", where=where)
    for service, table in raw.items():
        if service not in SERVICES:
            raise ConfigError(f"pull: unknown service {_suggest(service, sorted(SERVICES))}"
                              f" ({', '.join(sorted(SERVICES))})", where=where)
        SERVICES[service](table, workspace, where)
    return {str(k): dict(v) for k, v in raw.items()}


def _refuse_secrets(table: Mapping[str, Any], prefix: str, where: str, instead: str) -> None:
    for key in table:
        if key.lower() in _SECRET_KEYS:
            raise ConfigError(f"{prefix}.{key}: a secret must not be written in molehunt.toml;"
                              f" name {instead} that holds it", where=where)


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key)
