"""Evidence bundles: a zip of a case's events, findings and notes with a chained manifest.

``manifest.json`` lists every file with its SHA-256 and a chain value
``chain_i = sha256(chain_{i-1} + ":" + name_i + ":" + sha256_i)`` (``chain_0`` is 64 zeros),
so changing, removing, adding or reordering a file is detectable; the export also writes the
chain head into the audit log. ``manifest.sig`` is the Ed25519 signature (base64) of the exact
bytes of ``manifest.json`` under the workspace's audit key (:mod:`molehunt.cases.auditkey`), and
``audit-public.pem`` is the signer's public key for convenience: a bundle rebuilt wholesale with
a new manifest cannot be signed without the key, so it fails against the trusted public key
even offline, with no access to the console or its database. :func:`verify_bundle`
(``molehunt audit verify-bundle``) checks a zip.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from molehunt.cases.auditkey import AuditKey, fingerprint, signature_holds

GENESIS = "0" * 64
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "audit-public.pem"


def chain_step(previous: str, name: str, digest: str) -> str:
    """One link of the manifest chain.

    >>> chain_step(GENESIS, "a.json", "0" * 64)[:12]
    'd2e673dfda98'
    """
    return hashlib.sha256(f"{previous}:{name}:{digest}".encode()).hexdigest()


def build_bundle(files: list[tuple[str, bytes]], meta: dict[str, Any],
                 key: AuditKey | None = None) -> tuple[bytes, str]:
    """A zip of ``files`` (in that order) plus its manifest, signed with ``key`` when given;
    returns the bytes and chain head."""
    chain, entries = GENESIS, []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            digest = hashlib.sha256(data).hexdigest()
            chain = chain_step(chain, name, digest)
            entries.append({"name": name, "bytes": len(data), "sha256": digest, "chain": chain})
            archive.writestr(name, data)
        manifest: dict[str, Any] = {**meta, "files": entries, "chain_head": chain,
                                    "algorithm": "sha256(previous:name:sha256)"}
        if key is not None:
            manifest["signature"] = {"algorithm": "Ed25519", "file": SIGNATURE,
                                     "public_key_fingerprint": key.fingerprint}
        text = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        archive.writestr(MANIFEST, text)
        if key is not None:
            archive.writestr(SIGNATURE, key.sign(text) + "\n")
            archive.writestr(PUBLIC_KEY, key.public_pem)
    return buffer.getvalue(), chain


def verify_bundle(path: Path | bytes, public_key: Ed25519PublicKey | None = None
                  ) -> tuple[bool, str, list[str]]:
    """Check a bundle: every file's hash, the chain, no extra or missing files, and with
    ``public_key`` (the trusted key, not the one in the bundle) the manifest's signature.

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
        manifest_bytes = archive.read(MANIFEST)
        if public_key is not None:
            problems += _signature_problems(archive, names, manifest_bytes, public_key)
        try:
            manifest = json.loads(manifest_bytes)
            entries = list(manifest["files"])
        except (ValueError, KeyError, TypeError):
            return False, "", [*problems, "manifest.json is not a valid manifest"]
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
        extra = names - {str(e.get("name")) for e in entries} - {MANIFEST, SIGNATURE, PUBLIC_KEY}
        problems += [f"{name}: not in the manifest" for name in sorted(extra)]
        if chain != manifest.get("chain_head"):
            problems.append("chain head does not match the manifest")
    return not problems, chain, problems


def _signature_problems(archive: zipfile.ZipFile, names: set[str], manifest: bytes,
                        public_key: Ed25519PublicKey) -> list[str]:
    if SIGNATURE not in names:
        return [f"{SIGNATURE} is missing: the bundle is not signed"]
    signature = archive.read(SIGNATURE).decode("ascii", "replace").strip()
    if signature_holds(public_key, manifest, signature):
        return []
    return [f"the manifest's signature does not hold under the public key"
            f" {fingerprint(public_key)} (the bundle was changed after it was signed, or"
            " signed by another key)"]
