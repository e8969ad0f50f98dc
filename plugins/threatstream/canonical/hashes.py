"""Hashes and fingerprints: lower-case hex digests of the length their type demands."""

from __future__ import annotations

import re
from collections.abc import Callable

from threatstream.canonical.errors import InvalidIndicator, excerpt
from threatstream.canonical.text import CanonicalIndicator, Canonicaliser, coerce_type, prepare
from threatstream.canonical.vocabulary import IndicatorType

HASH_LENGTHS: dict[IndicatorType, tuple[int, ...]] = {
    IndicatorType.FILEHASH_MD5: (32,),
    IndicatorType.FILEHASH_SHA1: (40,),
    IndicatorType.FILEHASH_SHA256: (64,),
    IndicatorType.FILEHASH_PEHASH: (40,),
    IndicatorType.FILEHASH_IMPHASH: (32,),
    IndicatorType.JA3: (32,),
    IndicatorType.SSL_CERT_FINGERPRINT: (40, 64),
}
_HEX_RE = re.compile(r"[0-9a-f]+")


def hex_digest(text: str, kind: IndicatorType) -> str:
    """The canonical digest of a prepared text reported as the hash type ``kind``."""
    lengths = HASH_LENGTHS[kind]
    if kind is IndicatorType.SSL_CERT_FINGERPRINT:
        text = text.replace(":", "")
    digest = text.lower()
    if len(digest) not in lengths or not _HEX_RE.fullmatch(digest):
        wanted = " or ".join(str(n) for n in lengths)
        raise InvalidIndicator("invalid_hash", f"{excerpt(text)} is not {wanted} hex digits ({kind.value})")
    return digest


def canonical_hash(value: str, indicator_type: IndicatorType) -> str:
    """Lower-case hex digest of the length the type demands (SSLCertFingerprint: colons removed)."""
    kind = coerce_type(indicator_type)
    if kind not in HASH_LENGTHS:
        raise InvalidIndicator("unknown_type", f"{kind.value} is not a hash type")
    return hex_digest(prepare(value), kind)


def hash_of(kind: IndicatorType) -> Canonicaliser:
    """The canonicaliser of the hash type ``kind``."""
    return lambda text: CanonicalIndicator(kind, hex_digest(text, kind))


def hash_shortcut(kind: IndicatorType) -> Callable[[str], CanonicalIndicator | None]:
    """The shortcut of the hash type ``kind``: a digest already in canonical form, or None."""
    lengths = HASH_LENGTHS[kind]

    def canonical_digest(text: str) -> CanonicalIndicator | None:
        return CanonicalIndicator(kind, text) if len(text) in lengths and _HEX_RE.fullmatch(text) else None

    return canonical_digest
