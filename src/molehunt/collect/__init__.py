"""Collection: pull audit logs from a service's API into the raw files ``ingest`` reads.

``molehunt pull m365 FOLDER`` (:mod:`molehunt.collect.m365`, the Office 365 Management
Activity API) and ``molehunt pull gworkspace FOLDER`` (:mod:`molehunt.collect.gworkspace`,
the Admin SDK Reports API) write what the services return, as they return it, into files
that ``molehunt ingest m365 FOLDER`` and ``ingest gworkspace FOLDER`` read unchanged. This
package stands before the sources in the data flow: it writes files and never touches the
store, and nothing in molehunt imports it but the CLI.

Each pull keeps a checkpoint in its folder and goes on from it, so that a scheduled rerun
fetches only what is new, and an interrupted one neither skips nor (apart from the one
window it was writing) fetches anything twice: see :mod:`molehunt.collect._state`.
Settings: ``[pull.m365]`` and ``[pull.gworkspace]`` in ``molehunt.toml``
(:mod:`molehunt.collect.settings`).
"""

from __future__ import annotations

from pathlib import Path

from molehunt.collect.settings import (
    GWorkspacePullSettings,
    M365PullSettings,
    gworkspace_pull_settings,
    m365_pull_settings,
)
from molehunt.config import SETTINGS_FILE, Settings
from molehunt.errors import ConfigError


def m365_settings(settings: Settings, workspace: Path) -> M365PullSettings:
    """The workspace's ``[pull.m365]``, or a :class:`ConfigError` that says what to add."""
    return m365_pull_settings(_table(settings, workspace, "m365", "tenant_id, client_id and"
                                     " client_secret_env"), workspace,
                              str(workspace / SETTINGS_FILE))


def gworkspace_settings(settings: Settings, workspace: Path) -> GWorkspacePullSettings:
    """The workspace's ``[pull.gworkspace]``, or a :class:`ConfigError` that says what to
    add."""
    return gworkspace_pull_settings(_table(settings, workspace, "gworkspace",
                                           "credentials_file and delegated_admin"),
                                    workspace, str(workspace / SETTINGS_FILE))


def _table(settings: Settings, workspace: Path, service: str, needed: str) -> dict[str, object]:
    table = settings.pull.get(service)
    if table is None:
        raise ConfigError(f"no [pull.{service}] table: add one with {needed} (see"
                          " docs/sources.md)", where=str(workspace / SETTINGS_FILE))
    return table
