"""HMAC-SHA256 signatures of model manifests and of the champion pointer (`MODEL_SIGNING_KEY`).

The signature lives inside `manifest.json` under `"signature"` and covers the canonical JSON of
every other field — including `files`, the sha256 of every file of the bundle. One object holds
both, so a manifest and its signature cannot be uploaded or cached apart. A loader with the key
checks the signature before it downloads any model bytes; the sha256 check then ties those bytes
to the signed manifest. Whoever can write the bucket but lacks the key cannot make a keyed loader
unpickle anything of theirs.

`champion.json` and each history entry are signed the same way, over every field of the pointer:
the version, its `sequence`, `previous_version`, `promoted_at` and the decision. A keyed server
serves only a pointer the key holder wrote, and never one whose sequence is lower than the one it
serves, so an old signed pointer cannot be replayed; a rollback is a new pointer (higher
sequence) written by the key holder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_FIELD = "signature"
ALGORITHM = "HMAC-SHA256"


class SignatureError(ValueError):
    """A manifest is unsigned, or its signature does not match; `reason` says which."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # "unsigned" | "bad signature"


def canonical_json(manifest: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, the signature field left out."""
    unsigned = {k: v for k, v in manifest.items() if k != SIGNATURE_FIELD}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _key_bytes(key: str | bytes) -> bytes:
    if not key:
        raise ValueError("empty signing key")
    return key.encode() if isinstance(key, str) else key


def signature(manifest: dict[str, Any], key: str | bytes) -> str:
    return hmac.new(_key_bytes(key), canonical_json(manifest), hashlib.sha256).hexdigest()


def sign(manifest: dict[str, Any], key: str | bytes) -> dict[str, Any]:
    """A copy of `manifest` with its signature added."""
    signed = {k: v for k, v in manifest.items() if k != SIGNATURE_FIELD}
    signed[SIGNATURE_FIELD] = {"algorithm": ALGORITHM, "value": signature(signed, key)}
    return signed


def verify(manifest: dict[str, Any], key: str | bytes, what: str = "manifest") -> None:
    """Raise `SignatureError` unless `manifest` (or another signed record, named by `what`)
    carries a valid signature for `key`."""
    stored = manifest.get(SIGNATURE_FIELD)
    if not isinstance(stored, dict) or not stored.get("value"):
        raise SignatureError("unsigned", f"the {what} carries no signature")
    if stored.get("algorithm") != ALGORITHM:
        raise SignatureError("bad signature", f"unsupported algorithm {stored.get('algorithm')!r}")
    if not hmac.compare_digest(str(stored["value"]), signature(manifest, key)):
        raise SignatureError("bad signature", f"the {what} was changed or signed with another key")
