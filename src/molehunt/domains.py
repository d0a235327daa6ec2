"""Web and e-mail domain categories: job boards, cloud storage, webmail, leak sites, …

The package ships a curated list (``data/domain_categories.csv``, sources documented in
``docs/domain-categories.md``). A workspace can extend or override it with CSV files of the
same layout listed in its settings; competitors are configured per company. A domain matches
itself and its subdomains; the most specific entry wins.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from molehunt.errors import ConfigError

#: Categories that sources and features understand.
CATEGORIES: frozenset[str] = frozenset(
    {
        "job_board",
        "cloud_storage",
        "webmail",
        "paste_leak",
        "hacking_tools",
        "expert_network",
        "news",
        "social",
        "competitor",
    }
)


def normalise_domain(value: str) -> str:
    """Lower-case a host or domain and strip a trailing dot, port and leading ``www.``.

    >>> normalise_domain("WWW.Dropbox.com.:443")
    'dropbox.com'
    """
    host = value.strip().lower().split(":", 1)[0].rstrip(".")
    return host[4:] if host.startswith("www.") else host


@dataclass(frozen=True)
class DomainCategories:
    """A mapping from domain to category with subdomain matching."""

    by_domain: Mapping[str, str] = field(default_factory=dict)

    def category(self, host: str) -> str | None:
        """Return the category of ``host`` or of its closest listed parent domain.

        >>> DomainCategories({"google.com": "social", "drive.google.com": "cloud_storage"}
        ...                  ).category("Drive.Google.com")
        'cloud_storage'
        """
        labels = normalise_domain(host).split(".")
        for start in range(len(labels) - 1):
            found = self.by_domain.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None

    def domains(self, category: str) -> list[str]:
        """All listed domains of one category, sorted."""
        return sorted(d for d, c in self.by_domain.items() if c == category)

    def extended(self, extra: Mapping[str, str]) -> DomainCategories:
        """A copy with ``extra`` entries added (they override shipped ones)."""
        merged = dict(self.by_domain)
        merged.update({normalise_domain(d): c for d, c in extra.items()})
        return DomainCategories(merged)


def _parse(text: str, where: str) -> dict[str, str]:
    rows = (line for line in io.StringIO(text) if line.strip() and not line.startswith("#"))
    reader = csv.DictReader(rows)
    if reader.fieldnames is None or not {"domain", "category"} <= set(reader.fieldnames):
        raise ConfigError("a domain category file needs the columns domain,category", where=where)
    result: dict[str, str] = {}
    for number, row in enumerate(reader, start=2):
        domain = normalise_domain(row.get("domain") or "")
        category = (row.get("category") or "").strip()
        if not domain or category not in CATEGORIES:
            raise ConfigError(
                f"row {number}: need a domain and one of {sorted(CATEGORIES)}, got {row!r}",
                where=where,
            )
        result[domain] = category
    return result


def load_domain_categories(
    extra_files: Iterable[Path] = (), competitors: Iterable[str] = ()
) -> DomainCategories:
    """The shipped categories, extended by the user's files and competitor domains."""
    shipped = resources.files("molehunt").joinpath("data/domain_categories.csv")
    categories = DomainCategories(_parse(shipped.read_text("utf-8"), "domain_categories.csv"))
    for path in extra_files:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as error:
            raise ConfigError(f"cannot read domain categories: {error.strerror}",
                              where=str(path)) from None
        categories = categories.extended(_parse(text, str(path)))
    return categories.extended({domain: "competitor" for domain in competitors})
