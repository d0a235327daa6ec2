"""Evidence bundles: a zip of a case's events, findings and notes with a chained manifest.

``manifest.json`` lists every file with its SHA-256 and a chain value
``chain_i = sha256(chain_{i-1} + ":" + name_i + ":" + sha256_i)`` (``chain_0`` is 64 zeros),
so changing, removing, adding or reordering a file is detectable; the export also writes the
chain head into the audit log, so a bundle rebuilt wholesale with a new manifest does not match
the log either. :func:`verify_bundle` (``molehunt audit verify-bundle``) checks a zip.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
MANIFEST = "manifest.json"


def chain_step(previous: str, name: str, digest: str) -> str:
    """One link of the manifest chain.

    >>> chain_step(GENESIS, "a.json", "0" * 64)[:12]
    'd2e673dfda98'
    """
    return hashlib.sha256(f"{previous}:{name}:{digest}".encode()).hexdigest()


def build_bundle(files: list[tuple[str, bytes]], meta: dict[str, Any]) -> tuple[bytes, str]:
    """A zip of ``files`` (in that order) plus its manifest; returns the bytes and chain head."""
    chain, entries = GENESIS, []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            digest = hashlib.sha256(data).hexdigest()
            chain = chain_step(chain, name, digest)
            entries.append({"name": name, "bytes": len(data), "sha256": digest, "chain": chain})
            archive.writestr(name, data)
        manifest = {**meta, "files": entries, "chain_head": chain,
                    "algorithm": "sha256(previous:name:sha256)"}
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
    return buffer.getvalue(), chain


def verify_bundle(path: Path | bytes) -> tuple[bool, str, list[str]]:
    """Check a bundle: every file's hash, the chain, no extra or missing files.

    Returns (ok, chain head, problems).
    """
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(path) if isinstance(path, bytes) else path)
    except (OSError, zipfile.BadZipFile) as error:
        return False, "", [f"not a readable zip: {error}"]
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            return False, "", ["manifest.json is missing"]
        try:
            manifest = json.loads(archive.read(MANIFEST))
            entries = list(manifest["files"])
        except (ValueError, KeyError, TypeError):
            return False, "", ["manifest.json is not a valid manifest"]
        chain = GENESIS
        for entry in entries:
            name = str(entry.get("name"))
            if name not in names:
                problems.append(f"{name}: listed but missing")
            elif hashlib.sha256(archive.read(name)).hexdigest() != entry.get("sha256"):
                problems.append(f"{name}: content changed (sha256 mismatch)")
            chain = chain_step(chain, name, str(entry.get("sha256")))
            if chain != entry.get("chain"):
                problems.append(f"{name}: chain broken (files removed, added or reordered)")
                chain = str(entry.get("chain"))
        extra = names - {str(e.get("name")) for e in entries} - {MANIFEST}
        problems += [f"{name}: not in the manifest" for name in sorted(extra)]
        if chain != manifest.get("chain_head"):
            problems.append("chain head does not match the manifest")
    return not problems, chain, problems
