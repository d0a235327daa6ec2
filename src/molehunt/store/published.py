"""``molehunt run``'s results published as versions, switched in one rename.

Layout::

    results -> results-versions/v000007     a symbolic link: the published version
    results-versions/v000007/               findings/, risk/, alerts.parquet, state.json, ...
    results-versions/v000006/               the version before, kept for readers still on it

A run writes a new version beside the published one (:func:`begin`) and switches the link to
it in one ``rename`` (:func:`publish`): a reader sees the old results or the new ones, never
a mix, and a run that is killed, fails or rebuilds everything leaves the old results in place.
A reader that reads several files resolves the link once (:func:`published_dir`) so that all
of them come from one version. The version before the published one is removed by the next
publish; an unfinished version (a run killed before its switch) by the next run.

Findings of days already scored are carried into the new version as hard links (a copy where
the file system has none): a run replaces such a file, it never writes into it, or it would
change the published version too.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from molehunt.store.workspace import Workspace, _fault_point, _fsync_dir, _fsync_tree

#: The link readers open.
RESULTS = "results"
#: The folder of the versions.
VERSIONS = "results-versions"
_VERSION = re.compile(r"^v(\d+)$")


def published_dir(workspace: Workspace) -> Path:
    """The published results' folder, the link resolved once (it may not exist yet)."""
    return (workspace.root / RESULTS).resolve()


def _numbers(folder: Path) -> dict[int, Path]:
    """The versions in ``folder`` by number, as absolute paths (comparable to
    :func:`published_dir`'s)."""
    folder = folder.resolve()
    found = {}
    for path in folder.iterdir() if folder.is_dir() else []:
        match = _VERSION.match(path.name)
        if match:
            found[int(match[1])] = path
    return found


def _name(number: int) -> str:
    return f"v{number:06d}"


def begin(workspace: Workspace, carry: Iterable[str] = ()) -> Path:
    """A new, unpublished version's folder, with the ``carry`` folders of the published
    version (e.g. ``findings``) linked in. Call with the writer lock held."""
    versions = workspace.root / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    link = workspace.root / RESULTS
    if not link.exists() and not link.is_symlink() and (versions / _name(0)).is_dir():
        link.symlink_to(Path(VERSIONS) / _name(0))  # a switch to versions killed half-way
    current = published_dir(workspace)
    found = _numbers(versions)
    published = max((n for n, path in found.items() if path == current), default=0)
    for number, path in found.items():
        if number > published:  # an unfinished version: its run was killed before the switch
            shutil.rmtree(path)
    new = versions / _name(published + 1)
    new.mkdir()
    for name in carry:
        source = current / name
        if source.is_dir():
            shutil.copytree(source, new / name, copy_function=_link)
    return new


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


def publish(workspace: Workspace, version: Path) -> None:
    """Make a complete version (from :func:`begin`) the published results, in one rename.

    Its files are made durable first; then the link is switched, and versions older than the
    one just replaced are removed. Results of a workspace from before versions (a plain
    ``results`` folder) become the replaced version first.
    """
    root = workspace.root.resolve()
    link = root / RESULTS
    version = version.resolve()
    _fsync_tree(version)
    _fault_point("results_before_switch")
    if link.is_dir() and not link.is_symlink():
        # once per workspace: the plain folder becomes version 0; readers find no results
        # between this rename and the next one
        legacy = root / VERSIONS / _name(0)
        shutil.rmtree(legacy, ignore_errors=True)  # a stale one, from a copied workspace
        os.replace(link, legacy)
        link.symlink_to(Path(VERSIONS) / legacy.name)
    replaced = published_dir(workspace)
    staged_link = root / f".{RESULTS}.switch"
    staged_link.unlink(missing_ok=True)
    staged_link.symlink_to(Path(VERSIONS) / version.name)
    os.replace(staged_link, link)
    _fsync_dir(root)
    for path in _numbers(root / VERSIONS).values():
        if path not in (version, replaced):
            shutil.rmtree(path, ignore_errors=True)


def discard(version: Path) -> None:
    """Remove a version that will not be published (its run failed)."""
    shutil.rmtree(version, ignore_errors=True)


__all__ = ["RESULTS", "VERSIONS", "begin", "discard", "publish", "published_dir"]
