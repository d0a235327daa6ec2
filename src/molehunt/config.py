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
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

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
        return cls(
            company_domains=tuple(d.lower() for d in strings("company_domains")),
            competitors=tuple(d.lower() for d in strings("competitors")),
            domain_category_files=tuple(
                workspace / p for p in strings("domain_category_files")
            ),
            psychometric_enabled=bool(raw.get("psychometric_enabled", False)),
            memory_limit=str(raw.get("memory_limit", "2GB")),
            threads=threads,
        )
