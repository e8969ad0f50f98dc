"""Controlled vocabularies shared by every source: indicator types and TLP."""

from __future__ import annotations

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
    def parse(cls, value: str | None) -> TLP | None:
        """Normalise a TLP 1.0 or 2.0 label (any case, optional ``TLP:`` prefix); None if absent."""
        if value is None:
            return None
        label = str(value).strip().lower().removeprefix("tlp:").strip()
        if not label:
            return None
        if label == "white":
            return cls.CLEAR
        return cls(label)
