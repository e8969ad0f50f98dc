"""Controlled vocabularies shared by every source: indicator types and TLP."""

from __future__ import annotations

import re
from enum import StrEnum


class IndicatorType(StrEnum):
    """Indicator types, in the AlienVault OTX vocabulary (case matters)."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"
    CIDR = "CIDR"
    DOMAIN = "domain"
    HOSTNAME = "hostname"
    EMAIL = "email"
    URL = "URL"
    URI = "URI"
    FILEHASH_MD5 = "FileHash-MD5"
    FILEHASH_SHA1 = "FileHash-SHA1"
    FILEHASH_SHA256 = "FileHash-SHA256"
    FILEHASH_PEHASH = "FileHash-PEHASH"
    FILEHASH_IMPHASH = "FileHash-IMPHASH"
    FILEPATH = "FilePath"
    MUTEX = "Mutex"
    CVE = "CVE"
    YARA = "YARA"
    JA3 = "JA3"
    OSQUERY = "osquery"
    SSL_CERT_FINGERPRINT = "SSLCertFingerprint"
    BITCOIN_ADDRESS = "BitcoinAddress"


class TLP(StrEnum):
    """Traffic Light Protocol 2.0 labels."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"

    @classmethod
    def from_label(cls, value: object) -> TLP | None:
        """The TLP 2.0 label a feed's TLP 1.0 or 2.0 spelling means; None if absent or blank.

        Case, surrounding and inner spacing and a ``TLP:`` / ``TLP `` / ``TLP-`` prefix do not
        matter; TLP 1.0 ``WHITE`` is ``CLEAR``; ``AMBER+STRICT`` may be spelt with a space,
        ``-`` or ``_`` instead of ``+``. Raises ``ValueError`` for anything else.
        """
        if value is None or isinstance(value, TLP):
            return value
        if not isinstance(value, str):
            raise ValueError(f"TLP label must be a string, got {type(value).__name__}")
        label = value.strip().lower()
        if not label:
            return None
        match = _TLP_LABEL_RE.fullmatch(label)
        tlp = _TLP_NAMES.get((match.group(1), match.group(2) is not None)) if match else None
        if tlp is None:
            raise ValueError(f"unknown TLP label {value[:40]!r}")
        return tlp

    @classmethod
    def parse(cls, value: object) -> TLP | None:
        """Like :meth:`from_label`, but None for an unknown label too (never raises)."""
        try:
            return cls.from_label(value)
        except ValueError:
            return None


_TLP_LABEL_RE = re.compile(r"(?:tlp\s*[:_-]\s*|tlp\s+)?([a-z]+)(?:\s*[+_ -]\s*(strict))?")
_TLP_NAMES: dict[tuple[str, bool], TLP] = {
    ("white", False): TLP.CLEAR,
    ("clear", False): TLP.CLEAR,
    ("green", False): TLP.GREEN,
    ("amber", False): TLP.AMBER,
    ("amber", True): TLP.AMBER_STRICT,
    ("red", False): TLP.RED,
}
