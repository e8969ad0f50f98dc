"""Controlled vocabularies shared by every source: indicator types and TLP."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
        if label.startswith("marking-definition--"):
            tlp = TLP_OF_MARKING.get(label)
        else:
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
#: The STIX 2.1 TLP 1.0 marking definitions (from the STIX 2.1 specification), by label.
TLP1_MARKING_IDS: Mapping[TLP, str] = {
    TLP.CLEAR: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # TLP:WHITE
    TLP.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    TLP.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    TLP.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
#: The TLP 2.0 marking definitions published with the OASIS TLP 2.0 STIX extension, by label.
TLP2_MARKING_IDS: Mapping[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
#: The label of each fixed TLP marking definition id (TLP 1.0 and 2.0), as TAXII feeds reference them.
TLP_OF_MARKING: Mapping[str, TLP] = {
    marking_id: tlp for ids in (TLP1_MARKING_IDS, TLP2_MARKING_IDS) for tlp, marking_id in ids.items()
}
