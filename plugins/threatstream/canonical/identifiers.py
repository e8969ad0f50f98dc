"""Identifiers with a fixed shape: CVE ids, e-mail addresses, Bitcoin addresses."""

from __future__ import annotations

import re

from threatstream.canonical.errors import InvalidIndicator, excerpt
from threatstream.canonical.hostnames import checked_hostname
from threatstream.canonical.refang import refang_host_text
from threatstream.canonical.text import TEXT_MAX_BYTES, WHITESPACE_RE, check_size, prepare

_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")


def cve(text: str) -> str:
    """The canonical CVE id of a prepared text."""
    upper = text.upper()
    if not _CVE_RE.fullmatch(upper):
        raise InvalidIndicator("invalid_cve", f"{excerpt(upper)} is not CVE-YYYY-NNNN")
    return upper


def canonical_cve(value: str) -> str:
    """Upper-case ``CVE-YYYY-NNNN...``."""
    return cve(prepare(value))


def email(text: str) -> str:
    """The canonical e-mail address of a prepared, refanged text."""
    check_size(text, TEXT_MAX_BYTES)
    if WHITESPACE_RE.search(text):
        raise InvalidIndicator("invalid_email", f"{excerpt(text)} contains whitespace")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidIndicator("invalid_email", f"{excerpt(text)} is not local@domain")
    try:
        canonical_domain = checked_hostname(domain, "invalid_email", underscore=False)
    except InvalidIndicator as err:
        raise InvalidIndicator("invalid_email", f"{excerpt(text)}: domain: {err.message}") from None
    return f"{local}@{canonical_domain}"


def canonical_email(value: str) -> str:
    """``local@domain``: local part kept as received, domain canonicalised as a host name."""
    return email(refang_host_text(prepare(value)))


_BASE58_RE = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{24,33}")
_BECH32_RE = re.compile(r"bc1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{11,87}")


def bitcoin_address(text: str) -> str:
    """Legacy base58 (``1...``/``3...``, case kept) or bech32 (``bc1...``, lower-cased) address.

    Only the shape is checked (alphabet, length); checksums are not verified.
    """
    if _BASE58_RE.fullmatch(text):
        return text
    lowered = text.lower()
    if lowered.startswith("bc1"):
        if text not in (lowered, text.upper()):
            raise InvalidIndicator("invalid_bitcoin_address", f"{excerpt(text)}: bech32 in mixed case")
        if _BECH32_RE.fullmatch(lowered):
            return lowered
    raise InvalidIndicator("invalid_bitcoin_address", f"{excerpt(text)} is not a base58 or bech32 address")
