"""The audit key: the secret that keys the audit chain and signs checkpoints and bundles.

It lives in ``<workspace>/console/audit.key`` (32 random bytes as hex, mode 0600), outside the
database like the pseudonym key, so whoever can write the database alone can neither rechain
the audit log nor sign a bundle. Two keys are derived from it, each for one purpose:

- the chain key: ``HMAC-SHA256(seed, "molehunt audit chain v1")``, the HMAC key of every
  entry's hash (:func:`molehunt.cases.audit.entry_hash`);
- the signing key: an Ed25519 private key made of ``HMAC-SHA256(seed, "molehunt signing v1")``,
  which signs audit checkpoints and evidence bundles.

The Ed25519 public key is written beside it as ``audit-public.pem`` (PEM, SubjectPublicKeyInfo;
``molehunt audit public-key`` prints it): an auditor who holds it verifies a bundle or a
checkpoint offline, with molehunt or with ``openssl pkeyutl -verify -rawin``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from molehunt.errors import ConfigError

KEY_FILE = "audit.key"
PUBLIC_KEY_FILE = "audit-public.pem"
_CHAIN_LABEL = b"molehunt audit chain v1"
_SIGNING_LABEL = b"molehunt signing v1"


def public_key_pem(public: Ed25519PublicKey) -> str:
    """``public`` as PEM text (SubjectPublicKeyInfo)."""
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def fingerprint(public: Ed25519PublicKey) -> str:
    """``SHA256:`` and the hex SHA-256 of the raw 32-byte public key (what to compare by phone).

    >>> fingerprint(AuditKey(b"k" * 32).public)[:20]
    'SHA256:b48b510d55817'
    """
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def load_public_key(pem: bytes | str, where: str = "public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text (one clear error when it is not one)."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        raise ConfigError("not a PEM public key", where=where) from None
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigError("not an Ed25519 public key", where=where)
    return public


def signature_holds(public: Ed25519PublicKey, data: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``public``'s signature of ``data``.

    >>> key = AuditKey(b"k" * 32)
    >>> signature_holds(key.public, b"x", key.sign(b"x")), signature_holds(key.public, b"y",
    ...                                                                       key.sign(b"x"))
    (True, False)
    """
    try:
        public.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


class AuditKey:
    """The chain key and the signing key derived from one secret seed."""

    def __init__(self, seed: bytes, folder: Path | None = None) -> None:
        #: where the key lives (the checkpoint file is kept beside it)
        self.folder = folder
        self._chain_key = hmac.new(seed, _CHAIN_LABEL, hashlib.sha256).digest()
        self._signing = Ed25519PrivateKey.from_private_bytes(
            hmac.new(seed, _SIGNING_LABEL, hashlib.sha256).digest())
        self.public = self._signing.public_key()

    def chain_hash(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under the chain key, as hex."""
        return hmac.new(self._chain_key, message, hashlib.sha256).hexdigest()

    def sign(self, data: bytes) -> str:
        """The Ed25519 signature of ``data``, base64."""
        return base64.b64encode(self._signing.sign(data)).decode("ascii")

    @property
    def public_pem(self) -> str:
        """The public key as PEM text."""
        return public_key_pem(self.public)

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint (:func:`fingerprint`)."""
        return fingerprint(self.public)


def load_or_create_key(folder: Path) -> AuditKey:
    """The workspace's audit key, created (32 random bytes, mode 0600) on first use; its public
    key is (re)written to ``audit-public.pem`` beside it."""
    path = folder / KEY_FILE
    if path.exists():
        try:
            seed = bytes.fromhex(path.read_text("ascii").strip())
        except (ValueError, OSError) as error:
            raise ConfigError(f"unreadable audit key: {error}", where=str(path)) from None
        if len(seed) < 16:
            raise ConfigError("audit key is shorter than 16 bytes", where=str(path))
    else:
        folder.mkdir(parents=True, exist_ok=True)
        seed = secrets.token_bytes(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(seed.hex())
    key = AuditKey(seed, folder)
    public_path = folder / PUBLIC_KEY_FILE
    try:
        current = public_path.read_text("ascii") if public_path.exists() else None
        if current != key.public_pem:
            public_path.write_text(key.public_pem, "ascii")
    except OSError as error:
        raise ConfigError(f"cannot write the audit public key: {error}",
                          where=str(public_path)) from None
    return key
