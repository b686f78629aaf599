"""Ed25519 keys of the remediator: make the pair, load either half, sign, verify.

The private key stays on the remediator's host (mode 0600); every agent holds the
public key and refuses any command whose signature does not verify against it. Keys
are PEM files (PKCS#8 private, SubjectPublicKeyInfo public) made with the
``cryptography`` package, so ``openssl pkey -in KEY -pubout`` reads them too. A key's
``key_id`` (the first 16 hex digits of the SHA-256 of its raw public bytes) names it in
commands and logs, which is what makes a rotation traceable (docs/remediation.md).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class KeyFileError(ValueError):
    """A key file is missing, unreadable or not an Ed25519 key (the message says which)."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def keygen(private_path: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new pair: ``private_path`` (0600) and ``private_path + '.pub'`` (0644).

    Raises KeyFileError if the private key exists and ``force`` is false (a rotation is a
    deliberate act: the agents must receive the new public key).
    """
    public_path = private_path.with_name(private_path.name + ".pub")
    if private_path.exists() and not force:
        raise KeyFileError(f"{private_path} exists; pass --force to replace it (a key rotation)")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = private_path.with_name(private_path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.replace(tmp, private_path)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    public_path.chmod(0o644)
    return private_path, public_path


def _read(path: Path, kind: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        hint = "; make one with `gamsi remediator keygen`" if kind == "private" else ""
        raise KeyFileError(f"{path}: no {kind} key file{hint}") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the {kind} key ({exc.strerror})") from None


def _parse(path: Path, kind: str, data: bytes, load: Any, expected: type) -> Any:
    try:
        key = load(data)
    except (ValueError, TypeError) as exc:
        why = type(exc).__name__
        raise KeyFileError(f"{path}: not a readable PEM {kind} key ({why})") from None
    if not isinstance(key, expected):
        raise KeyFileError(f"{path}: expected an Ed25519 {kind} key, got {type(key).__name__}")
    return key


def load_private(path: Path) -> Ed25519PrivateKey:
    """The remediator's signing key (PKCS#8 PEM, unencrypted); KeyFileError otherwise."""
    data = _read(path, "private")
    load = lambda d: serialization.load_pem_private_key(d, password=None)  # noqa: E731
    return _parse(path, "private", data, load, Ed25519PrivateKey)


def load_public(path: Path) -> Ed25519PublicKey:
    """A public key (SubjectPublicKeyInfo PEM); KeyFileError otherwise."""
    data = _read(path, "public")
    return _parse(path, "public", data, serialization.load_pem_public_key, Ed25519PublicKey)


def load_trusted(path: Path) -> tuple[Ed25519PublicKey, ...]:
    """Every public key in ``path`` (one or more PEM blocks, e.g. the old and the new key
    during a rotation); KeyFileError if there is none or one is not an Ed25519 key."""
    blocks = _PEM.findall(_read(path, "public"))
    if not blocks:
        raise KeyFileError(f"{path}: no PEM public key in it")
    load = serialization.load_pem_public_key
    return tuple(_parse(path, "public", b, load, Ed25519PublicKey) for b in blocks)


def sign(key: Ed25519PrivateKey, payload: bytes) -> str:
    """Base64 of the 64-byte Ed25519 signature of ``payload``."""
    return base64.b64encode(key.sign(payload)).decode()


def verify(key: Ed25519PublicKey, payload: bytes, signature: str) -> bool:
    """True only when ``signature`` (base64) is ``key``'s signature of ``payload``."""
    try:
        raw = base64.b64decode(signature.encode(), validate=True)
        key.verify(raw, payload)
    except (InvalidSignature, ValueError):
        return False
    return True
