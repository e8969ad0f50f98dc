"""Tests for threatstream.canonical: golden examples plus hypothesis properties."""

from __future__ import annotations

import hashlib
import ipaddress
import pickle
import re
import string
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threatstream.canonical.addresses import canonical_cidr, canonical_ip, ip_indicator_type
from threatstream.canonical.dispatch import canonical_indicator, canonicalize
from threatstream.canonical.errors import REASONS, InvalidIndicator
from threatstream.canonical.hashes import canonical_hash
from threatstream.canonical.hostnames import canonical_hostname
from threatstream.canonical.identifiers import canonical_cve, canonical_email
from threatstream.canonical.identity import indicator_keys, merged_keys
from threatstream.canonical.urls import canonical_url
from threatstream.canonical.vocabulary import IndicatorType as T

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _attempt(func: Callable[..., str], *args: object) -> tuple[str | None, str | None]:
    """(canonical, None) on success, (None, reason) on InvalidIndicator."""
    try:
        return func(*args), None
    except InvalidIndicator as err:
        return None, err.reason


# ----------------------------------------------------------------------------------------------
# Golden examples: valid input -> canonical output

VALID: list[tuple[T, str, str]] = [
    # URL: / ? # kept
    (T.URL, "http://example.com/a/b?c=d&e=f#frag", "http://example.com/a/b?c=d&e=f#frag"),
    # scheme and host lower-cased; path, query and fragment case kept
    (T.URL, "HTTP://WWW.Example.COM/Path/To?Q=Upper#Frag", "http://www.example.com/Path/To?Q=Upper#Frag"),
    # IDN host -> A-label (UTS46, also for upper-case U-labels)
    (T.URL, "http://bücher.example/x", "http://xn--bcher-kva.example/x"),
    (T.URL, "http://BÜCHER.example/x", "http://xn--bcher-kva.example/x"),
    (T.URL, "https://straße.de/", "https://xn--strae-oqa.de/"),
    # default ports removed, others kept (leading zeros normalised, empty port dropped)
    (T.URL, "http://example.com:80/x", "http://example.com/x"),
    (T.URL, "https://example.com:443/x", "https://example.com/x"),
    (T.URL, "ftp://example.com:21/pub/file.bin", "ftp://example.com/pub/file.bin"),
    (T.URL, "ftps://example.com:990/", "ftps://example.com/"),
    (T.URL, "http://example.com:443/", "http://example.com:443/"),
    (T.URL, "https://example.com:80/", "https://example.com:80/"),
    (T.URL, "http://example.com:8080", "http://example.com:8080/"),
    (T.URL, "http://example.com:080/", "http://example.com/"),
    (T.URL, "http://example.com:/", "http://example.com/"),
    # percent escapes: hex upper-cased everywhere, never decoded; nothing else re-encoded
    (
        T.URL,
        "http://example.com/a%2fb%3a?x=%e2%82%ac&y=%2F#%7e",
        "http://example.com/a%2Fb%3A?x=%E2%82%AC&y=%2F#%7E",
    ),
    (T.URL, "http://example.com/%41%2D", "http://example.com/%41%2D"),
    (T.URL, "http://example.com/100%zz%", "http://example.com/100%zz%"),
    (T.URL, "http://example.com/ünï?ä=ö#ü", "http://example.com/ünï?ä=ö#ü"),
    (T.URL, "http://example.com/{x}|^`'\"<>", "http://example.com/{x}|^`'\"<>"),
    # empty path -> "/"
    (T.URL, "http://example.com", "http://example.com/"),
    (T.URL, "http://example.com?q=1", "http://example.com/?q=1"),
    (T.URL, "http://example.com#top", "http://example.com/#top"),
    # empty query / fragment kept as received
    (T.URL, "http://example.com/?", "http://example.com/?"),
    (T.URL, "http://example.com/#", "http://example.com/#"),
    # trailing dot of the host removed
    (T.URL, "http://example.com./x", "http://example.com/x"),
    # IP hosts
    (T.URL, "http://8.8.8.8/bins/mozi.m", "http://8.8.8.8/bins/mozi.m"),
    (T.URL, "http://8.8.8.8.:81/", "http://8.8.8.8:81/"),
    (T.URL, "http://[2A01:4F8:C17:1:0:0:0:1]:8080/x", "http://[2a01:4f8:c17:1::1]:8080/x"),
    (T.URL, "https://[2a01:4f8:c17:1::1]:443", "https://[2a01:4f8:c17:1::1]/"),
    # userinfo kept as received
    (T.URL, "http://User:PaSs%2f@Example.com/", "http://User:PaSs%2f@example.com/"),
    (T.URL, "http://a@b@example.com/", "http://a@b@example.com/"),
    # surrounding whitespace stripped
    (T.URL, "  http://example.com/x \n", "http://example.com/x"),
    # ASCII labels are LDH-checked only (IDNA2008 would refuse '--' in positions 3-4)
    (
        T.URL,
        "https://r3---sn-4g5e6nsz.googlevideo.com/videoplayback",
        "https://r3---sn-4g5e6nsz.googlevideo.com/videoplayback",
    ),
    # domain / hostname
    (T.DOMAIN, "Example.COM", "example.com"),
    (T.DOMAIN, "example.com.", "example.com"),
    (T.DOMAIN, "  example.com  ", "example.com"),
    (T.DOMAIN, "bücher.example", "xn--bcher-kva.example"),
    (T.DOMAIN, "XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    (T.DOMAIN, "münchen.de.", "xn--mnchen-3ya.de"),
    (T.DOMAIN, "example。com", "example.com"),
    (T.DOMAIN, "123.com", "123.com"),
    (T.DOMAIN, "a-b.c-d.co.uk", "a-b.c-d.co.uk"),
    (T.HOSTNAME, "WWW.Sub.Example.org.", "www.sub.example.org"),
    (T.HOSTNAME, "1.2.3.example", "1.2.3.example"),
    (T.HOSTNAME, "пример.испытание", "xn--e1afmkfd.xn--80akhbyknj4f"),
    # IPv4 / IPv6
    (T.IPV4, "8.8.8.8", "8.8.8.8"),
    (T.IPV4, " 1.1.1.1 ", "1.1.1.1"),
    (T.IPV6, "2A01:4F8:C17:1:0:0:0:1", "2a01:4f8:c17:1::1"),
    (T.IPV6, "2606:4700:4700:0000:0000:0000:0000:1111", "2606:4700:4700::1111"),
    # CIDR
    (T.CIDR, "1.2.3.4/24", "1.2.3.0/24"),
    (T.CIDR, "8.8.8.8/32", "8.8.8.8/32"),
    (T.CIDR, "1.2.3.4/255.255.255.0", "1.2.3.0/24"),
    (T.CIDR, "2A01:4F8::1/32", "2a01:4f8::/32"),
    (T.CIDR, "2606:4700:0000::/32", "2606:4700::/32"),
    # hashes
    (T.FILEHASH_MD5, MD5.upper(), MD5),
    (T.FILEHASH_SHA1, SHA1.upper(), SHA1),
    (T.FILEHASH_SHA256, SHA256.upper(), SHA256),
    (T.FILEHASH_SHA256, f"  {SHA256}\n", SHA256),
    (T.FILEHASH_PEHASH, SHA1.upper(), SHA1),
    (T.FILEHASH_IMPHASH, MD5.upper(), MD5),
    (T.JA3, MD5.upper(), MD5),
    (T.SSL_CERT_FINGERPRINT, ":".join(re.findall("..", SHA1.upper())), SHA1),
    (T.SSL_CERT_FINGERPRINT, ":".join(re.findall("..", SHA256)), SHA256),
    (T.SSL_CERT_FINGERPRINT, SHA256.upper(), SHA256),
    # CVE
    (T.CVE, "cve-2021-44228", "CVE-2021-44228"),
    (T.CVE, "CVE-2014-0160", "CVE-2014-0160"),
    (T.CVE, " Cve-2023-1234567 ", "CVE-2023-1234567"),
    # email: local part kept as received, domain canonicalised
    (T.EMAIL, "Foo.Bar@Example.COM", "Foo.Bar@example.com"),
    (T.EMAIL, "user+tag@example.com.", "user+tag@example.com"),
    (T.EMAIL, "user@bücher.example", "user@xn--bcher-kva.example"),
    (T.EMAIL, '"a@b"@example.com', '"a@b"@example.com'),
    # bitcoin
    (T.BITCOIN_ADDRESS, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    (T.BITCOIN_ADDRESS, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
    (
        T.BITCOIN_ADDRESS,
        "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    ),
    (
        T.BITCOIN_ADDRESS,
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
    ),
    # free text: trimmed, otherwise as received
    (T.URI, " /wp-admin/admin-ajax.php?action=X ", "/wp-admin/admin-ajax.php?action=X"),
    (T.FILEPATH, "C:\\Windows\\Temp\\Evil.EXE", "C:\\Windows\\Temp\\Evil.EXE"),
    (T.MUTEX, "Global\\MyMutex \t", "Global\\MyMutex"),
    (
        T.YARA,
        "\n  rule x {\n\tcondition:\n\t\ttrue\n}\n\n",
        "rule x {\n\tcondition:\n\t\ttrue\n}",
    ),
    (T.OSQUERY, "SELECT *\n  FROM processes;  ", "SELECT *\n  FROM processes;"),
]


@pytest.mark.parametrize(("indicator_type", "raw", "expected"), VALID)
def test_golden_valid(indicator_type: T, raw: str, expected: str) -> None:
    assert canonicalize(indicator_type, raw) == expected
    # the string spelling of the type works too
    assert canonicalize(indicator_type.value, raw) == expected


@pytest.mark.parametrize(("indicator_type", "raw", "expected"), VALID)
def test_golden_valid_is_idempotent(indicator_type: T, raw: str, expected: str) -> None:
    assert canonicalize(indicator_type, expected) == expected


# ----------------------------------------------------------------------------------------------
# Golden examples: invalid input -> reason

INVALID: list[tuple[T, str, str]] = [
    # URL: scheme / structure
    (T.URL, "javascript:alert(1)", "invalid_url"),
    (T.URL, "example.com/x", "invalid_url"),
    (T.URL, "//example.com/x", "invalid_url"),
    (T.URL, "example.com:8080/x", "invalid_url"),
    (T.URL, "mailto:a@example.com", "invalid_url"),
    (T.URL, "file:///etc/passwd", "invalid_url"),
    (T.URL, "data:text/html,hi", "invalid_url"),
    (T.URL, "http:/example.com", "invalid_url"),
    (T.URL, "http:///path", "invalid_url"),
    (T.URL, "http://", "invalid_url"),
    (T.URL, "http://user@/x", "invalid_url"),
    # URL: ports
    (T.URL, "http://example.com:0/", "invalid_url"),
    (T.URL, "http://example.com:65536/", "invalid_url"),
    (T.URL, "http://example.com:8o/", "invalid_url"),
    (T.URL, "http://example.com:123456/", "invalid_url"),
    (T.URL, "http://example.com:-1/", "invalid_url"),
    (T.URL, "http://example.com:\uff18\uff10/", "invalid_url"),
    # URL: whitespace / control characters inside, backslash in authority
    (T.URL, "http://exa mple.com/", "invalid_url"),
    (T.URL, "http://example.com/a b", "invalid_url"),
    (T.URL, "http://example.com/a\tb", "invalid_url"),
    (T.URL, "http://example.com/\x00", "control_character"),
    (T.URL, "http://example.com/\x7f", "control_character"),
    (T.URL, "http://example.com/a\u00a0b", "invalid_url"),
    (T.URL, "http://example.com\\@evil.com/", "invalid_url"),
    # URL: IPv6 literals
    (T.URL, "http://2a01:4f8::1/", "invalid_url"),
    (T.URL, "http://[2a01:4f8::1/", "invalid_url"),
    (T.URL, "http://[2a01:4f8::1]x/", "invalid_url"),
    (T.URL, "http://[not-ipv6]/", "invalid_host"),
    (T.URL, "http://[1.2.3.4]/", "invalid_host"),
    (T.URL, "http://[fe80::1%25eth0]/", "invalid_host"),
    # URL: hosts
    (T.URL, "http://-example.com/", "invalid_host"),
    (T.URL, "http://localhost/", "invalid_host"),
    (T.URL, "http://010.1.1.1/", "invalid_host"),
    (T.URL, "http://127.1/", "invalid_host"),
    (T.URL, "http://2130706433/", "invalid_host"),
    (T.URL, "http://exa%6dple.com/", "invalid_host"),
    (T.URL, "http://xn--.example/", "invalid_host"),
    (T.URL, "http://xn--zz.example/", "invalid_host"),
    (T.URL, "http://\u0300a.example/", "invalid_host"),
    (T.URL, "http://\uff11.\uff12.\uff13.\uff14/", "invalid_host"),
    (T.URL, "http://example..com/", "invalid_host"),
    # URL: non-global IP hosts
    (T.URL, "http://10.0.0.1/x", "non_global_ip"),
    (T.URL, "http://127.0.0.1:8080/", "non_global_ip"),
    (T.URL, "http://192.168.1.1/", "non_global_ip"),
    (T.URL, "http://[::1]/", "non_global_ip"),
    (T.URL, "http://[fe80::1]/", "non_global_ip"),
    (T.URL, "http://[2001:db8::1]/", "non_global_ip"),
    (T.URL, "http://[::ffff:10.0.0.1]/", "non_global_ip"),
    # URL: length
    (T.URL, "http://example.com/" + "a" * 8192, "too_long"),
    # domain / hostname
    (T.DOMAIN, "localhost", "invalid_hostname"),
    (T.DOMAIN, "example..com", "invalid_hostname"),
    (T.DOMAIN, "example.com..", "invalid_hostname"),
    (T.DOMAIN, ".", "invalid_hostname"),
    (T.DOMAIN, ".example.com", "invalid_hostname"),
    (T.DOMAIN, "-example.com", "invalid_hostname"),
    (T.DOMAIN, "example-.com", "invalid_hostname"),
    (T.DOMAIN, "example.123", "invalid_hostname"),
    (T.DOMAIN, "010.1.1.1", "invalid_hostname"),
    (T.DOMAIN, "a" * 64 + ".com", "invalid_hostname"),
    (T.DOMAIN, ".".join(["a" * 63] * 4), "invalid_hostname"),
    (T.DOMAIN, "exa mple.com", "invalid_hostname"),
    (T.DOMAIN, "http://example.com", "invalid_hostname"),
    (T.DOMAIN, "example.com/path", "invalid_hostname"),
    (T.DOMAIN, "xn---bcher-kva.example", "invalid_hostname"),
    (T.DOMAIN, "xn--zz.example", "invalid_hostname"),
    (T.DOMAIN, "i\u2764.example", "invalid_hostname"),  # IDNA2008 disallows symbols
    (T.DOMAIN, "8.8.8.8", "not_a_hostname"),
    (T.DOMAIN, "8.8.8.8.", "not_a_hostname"),
    (T.HOSTNAME, "2a01:4f8::1", "not_a_hostname"),
    (T.HOSTNAME, "ex*ample.com", "invalid_hostname"),
    # IPv4
    (T.IPV4, "010.1.1.1", "invalid_ip"),
    (T.IPV4, "1.2.3", "invalid_ip"),
    (T.IPV4, "256.1.1.1", "invalid_ip"),
    (T.IPV4, "1.2.3.4/32", "invalid_ip"),
    (T.IPV4, "0x08.8.8.8", "invalid_ip"),
    (T.IPV4, "134744072", "invalid_ip"),
    (T.IPV4, "example.com", "invalid_ip"),
    (T.IPV4, "2a01:4f8::1", "ip_version_mismatch"),
    # IPv6
    (T.IPV6, "2a01:4f8::g", "invalid_ip"),
    (T.IPV6, "2a01:4f8:::1", "invalid_ip"),
    (T.IPV6, "[2a01:4f8::1]", "invalid_ip"),
    (T.IPV6, "2a01:4f8::1%eth0", "invalid_ip"),
    (T.IPV6, "8.8.8.8", "ip_version_mismatch"),
    # CIDR
    (T.CIDR, "1.2.3.4", "invalid_cidr"),
    (T.CIDR, "1.2.3.4/33", "invalid_cidr"),
    (T.CIDR, "1.2.3.4/", "invalid_cidr"),
    (T.CIDR, "a.b.c.d/24", "invalid_cidr"),
    (T.CIDR, "2a01:4f8::/129", "invalid_cidr"),
    (T.CIDR, "fe80::%eth0/64", "invalid_cidr"),
    (T.CIDR, "10.1.2.3/8", "non_global_ip"),
    (T.CIDR, "192.168.0.0/16", "non_global_ip"),
    (T.CIDR, "0.0.0.0/0", "non_global_ip"),
    (T.CIDR, "96.0.0.0/4", "non_global_ip"),  # overlaps 100.64.0.0/10
    (T.CIDR, "10.0.0.0/7", "non_global_ip"),  # half private
    (T.CIDR, "203.0.113.0/24", "non_global_ip"),
    (T.CIDR, "2001:db8::/48", "non_global_ip"),
    (T.CIDR, "fe80::/10", "non_global_ip"),
    (T.CIDR, "::/0", "non_global_ip"),
    (T.CIDR, "::ffff:10.0.0.0/104", "non_global_ip"),
    # hashes
    (T.FILEHASH_MD5, MD5[:-1], "invalid_hash"),
    (T.FILEHASH_MD5, MD5 + "0", "invalid_hash"),
    (T.FILEHASH_MD5, "g" * 32, "invalid_hash"),
    (T.FILEHASH_MD5, MD5[:16] + " " + MD5[16:], "invalid_hash"),
    (T.FILEHASH_MD5, SHA1, "invalid_hash"),
    (T.FILEHASH_SHA1, SHA256, "invalid_hash"),
    (T.FILEHASH_SHA1, MD5, "invalid_hash"),
    (T.FILEHASH_SHA256, "0x" + SHA256[2:], "invalid_hash"),
    (T.FILEHASH_SHA256, ":".join(re.findall("..", SHA256)), "invalid_hash"),
    (T.FILEHASH_SHA256, "\u0660" * 64, "invalid_hash"),  # Arabic-Indic digits are not hex
    (T.FILEHASH_PEHASH, MD5, "invalid_hash"),
    (T.FILEHASH_IMPHASH, SHA1, "invalid_hash"),
    (T.JA3, SHA1, "invalid_hash"),
    (T.JA3, "769,47-53-5-10-49161,0-10-11,23-24,0", "invalid_hash"),
    (T.SSL_CERT_FINGERPRINT, MD5, "invalid_hash"),
    (T.SSL_CERT_FINGERPRINT, ":".join(re.findall("..", MD5)), "invalid_hash"),
    # CVE
    (T.CVE, "CVE-2021-123", "invalid_cve"),
    (T.CVE, "2021-44228", "invalid_cve"),
    (T.CVE, "CVE-21-44228", "invalid_cve"),
    (T.CVE, "CVE-2021-44228a", "invalid_cve"),
    (T.CVE, "CVE_2021_44228", "invalid_cve"),
    (T.CVE, "CVE-2021-44228\nCVE-2021-45046", "invalid_cve"),
    # email
    (T.EMAIL, "userexample.com", "invalid_email"),
    (T.EMAIL, "@example.com", "invalid_email"),
    (T.EMAIL, "user@", "invalid_email"),
    (T.EMAIL, "user@localhost", "invalid_email"),
    (T.EMAIL, "us er@example.com", "invalid_email"),
    (T.EMAIL, "user@[8.8.8.8]", "invalid_email"),
    (T.EMAIL, "user@8.8.8.8", "invalid_email"),
    (T.EMAIL, "user@exa_mple.com", "invalid_email"),
    # bitcoin
    (T.BITCOIN_ADDRESS, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0", "invalid_bitcoin_address"),  # '0' not base58
    (T.BITCOIN_ADDRESS, "2A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "invalid_bitcoin_address"),
    (T.BITCOIN_ADDRESS, "1A1zP1eP5QGefi2", "invalid_bitcoin_address"),
    (T.BITCOIN_ADDRESS, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNaaaaa", "invalid_bitcoin_address"),
    (T.BITCOIN_ADDRESS, "bc1QAR0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "invalid_bitcoin_address"),
    (T.BITCOIN_ADDRESS, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdb", "invalid_bitcoin_address"),
    (T.BITCOIN_ADDRESS, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "invalid_bitcoin_address"),
    (T.BITCOIN_ADDRESS, "bc1qshort", "invalid_bitcoin_address"),
    # free-text caps (bytes of UTF-8)
    (T.URI, "a" * 2049, "too_long"),
    (T.FILEPATH, "é" * 1025, "too_long"),
    (T.MUTEX, "m" * 2049, "too_long"),
    (T.YARA, "r" * (32 * 1024 + 1), "too_long"),
    (T.OSQUERY, "q" * (32 * 1024 + 1), "too_long"),
]


@pytest.mark.parametrize(("indicator_type", "raw", "reason"), INVALID)
def test_golden_invalid(indicator_type: T, raw: str, reason: str) -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonicalize(indicator_type, raw)
    assert excinfo.value.reason == reason
    assert reason in REASONS


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("100.64.0.1", "shared"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("0.1.2.3", "this network"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("2001:0DB8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),  # ipaddress calls this is_global
        ("2002::1", "6to4"),
        ("2001::1", "IETF"),
        ("fec0::1", "site-local"),
        ("100::1", "discard"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("4000::1", "reserved"),
    ],
)
def test_non_global_ip_rejected_naming_the_kind(value: str, kind: str) -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonical_ip(value)
    assert excinfo.value.reason == "non_global_ip"
    assert kind in excinfo.value.message


def test_non_global_cidr_names_the_overlapping_range() -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonical_cidr("96.0.0.0/4")
    assert "100.64.0.0/10" in excinfo.value.message


# ----------------------------------------------------------------------------------------------
# Empty / non-string / unknown type


@pytest.mark.parametrize("indicator_type", list(T))
@pytest.mark.parametrize("raw", ["", " ", "\t\n \r", "\u3000\u00a0"])
def test_blank_values_rejected_for_every_type(indicator_type: T, raw: str) -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonicalize(indicator_type, raw)
    assert excinfo.value.reason == "empty"


@pytest.mark.parametrize("indicator_type", list(T))
def test_none_and_non_strings_rejected_for_every_type(indicator_type: T) -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonicalize(indicator_type, None)
    assert excinfo.value.reason == "empty"
    for value in (123, 1.5, b"8.8.8.8", ["8.8.8.8"], {"a": 1}):
        with pytest.raises(InvalidIndicator) as excinfo:
            canonicalize(indicator_type, value)
        assert excinfo.value.reason == "not_a_string"


def test_unpaired_surrogates_rejected() -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonicalize(T.MUTEX, "abc\udcff")
    assert excinfo.value.reason == "not_a_string"


@pytest.mark.parametrize("indicator_type", ["ipv4", "IPV4", "url", "FileHash-md5", "bogus", ""])
def test_unknown_type(indicator_type: str) -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonicalize(indicator_type, "8.8.8.8")
    assert excinfo.value.reason == "unknown_type"


def test_unknown_type_checked_before_value() -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonicalize("bogus", "")
    assert excinfo.value.reason == "unknown_type"


# ----------------------------------------------------------------------------------------------
# Individual functions


def test_invalid_indicator_shape() -> None:
    err = InvalidIndicator("non_global_ip", "10.0.0.1 is a private address")
    assert isinstance(err, ValueError)
    assert err.reason == "non_global_ip"
    assert "10.0.0.1 is a private address" in str(err)
    clone = pickle.loads(pickle.dumps(err))  # noqa: S301 - round-trip of our own object
    assert isinstance(clone, InvalidIndicator)
    assert (clone.reason, str(clone)) == (err.reason, str(err))


def test_public_functions_directly() -> None:
    assert canonical_url("HTTP://Example.COM") == "http://example.com/"
    assert canonical_hostname("Example.COM.") == "example.com"
    assert canonical_ip("2A01:4F8:C17:1:0:0:0:1") == "2a01:4f8:c17:1::1"
    assert canonical_cidr("1.2.3.4/24") == "1.2.3.0/24"
    assert canonical_hash(MD5.upper(), T.FILEHASH_MD5) == MD5
    assert canonical_cve("cve-2021-44228") == "CVE-2021-44228"
    assert canonical_email("A@B.Example") == "A@b.example"


def test_canonical_ip_accepts_both_versions() -> None:
    assert canonical_ip("8.8.8.8") == "8.8.8.8"
    assert canonical_ip("2606:4700:4700::1111") == "2606:4700:4700::1111"


def test_canonical_hash_rejects_non_hash_type() -> None:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonical_hash(MD5, T.URL)
    assert excinfo.value.reason == "unknown_type"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8.8.8.8", T.IPV4),
        (" 8.8.8.8 ", T.IPV4),
        ("10.0.0.1", T.IPV4),  # only the version is judged here
        ("2a01:4f8:c17:1::1", T.IPV6),
        ("2A01:4F8:C17:1:0:0:0:1", T.IPV6),
        ("::ffff:8.8.8.8", T.IPV4),  # IPv4-mapped: the IPv4 address it carries
    ],
)
def test_ip_indicator_type(value: str, expected: T) -> None:
    assert ip_indicator_type(value) is expected


@pytest.mark.parametrize("value", ["example.com", "1.2.3.4/32", "010.1.1.1", "", "[::1]"])
def test_ip_indicator_type_rejects_non_ips(value: str) -> None:
    with pytest.raises(InvalidIndicator):
        ip_indicator_type(value)


def test_length_caps_are_inclusive() -> None:
    url = "http://example.com/" + "a" * (8192 - len("http://example.com/"))
    assert canonical_url(url) == url
    assert canonicalize(T.URI, "u" * 2048) == "u" * 2048
    assert canonicalize(T.FILEPATH, "é" * 1024) == "é" * 1024
    assert canonicalize(T.YARA, "y" * 32768) == "y" * 32768
    assert canonicalize(T.OSQUERY, "q" * 32768) == "q" * 32768


def test_url_too_long_after_idna_conversion() -> None:
    # the input fits, but the A-label form would not: rejected, so the output stays idempotent
    url = "http://bücher.example/" + "a" * (8192 - len("http://bücher.example/") - 1)
    assert len(url.encode("utf-8")) <= 8192
    with pytest.raises(InvalidIndicator) as excinfo:
        canonical_url(url)
    assert excinfo.value.reason == "too_long"


def test_document_id_golden() -> None:
    value = "http://example.com/"
    expected = f"otx:URL:{_sha256(value)}"
    assert indicator_keys("otx", T.URL, value)[0] == expected
    assert indicator_keys("otx", "URL", value)[0] == expected
    assert indicator_keys("urlhaus", T.URL, value)[0] != expected
    assert indicator_keys("otx", T.URI, value)[0] != expected
    assert (
        indicator_keys("abuse_ipdb.v2-x", T.IPV4, "8.8.8.8")[0]
        == f"abuse_ipdb.v2-x:IPv4:{_sha256('8.8.8.8')}"
    )


@pytest.mark.parametrize("source", ["", "OTX", "otx/x", "otx:x", "ötx", "otx ", "a" * 65])
def test_document_id_rejects_bad_source(source: str) -> None:
    with pytest.raises(ValueError, match="source"):
        indicator_keys(source, T.URL, "http://example.com/")[0]


def test_document_id_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown indicator type"):
        indicator_keys("otx", "bogus", "x")[0]


def test_document_id_longest_possible_fits() -> None:
    longest_type = max((t.value for t in T), key=len)
    ident = indicator_keys("s" * 64, longest_type, "x")[0]
    assert len(ident) <= 255
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,255}", ident)


@PROPERTY_SETTINGS
@given(st.sampled_from(["otx", "urlhaus", "abuseipdb"]), st.sampled_from(list(T)), st.text())
def test_source_and_merged_documents_share_the_partition_key(source: str, kind: T, value: str) -> None:
    merged_id, partition_key = merged_keys(kind, value)
    assert indicator_keys(source, kind, value) == (f"{source}:{merged_id}", partition_key)


def test_partition_key_golden() -> None:
    assert merged_keys(T.IPV4, "8.8.8.8")[1] == f"IPv4_{_sha256('8.8.8.8')[:2]}"
    assert merged_keys("FileHash-SHA256", SHA256)[1] == f"FileHash-SHA256_{_sha256(SHA256)[:2]}"


# ----------------------------------------------------------------------------------------------
# Property-based tests

_LDH = string.ascii_letters + string.digits
_IDN_LABELS = ["bücher", "münchen", "straße", "пример", "例え", "ελληνικά", "café"]


def _random_case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flags: "".join(ch.upper() if flag else ch for ch, flag in zip(text, flags, strict=True))
    )


_ascii_label = st.text(alphabet=_LDH + "-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith("-") and not s.endswith("-")
)
_label = st.one_of(_ascii_label, st.sampled_from(_IDN_LABELS).flatmap(_random_case))
_tld = st.one_of(
    st.text(alphabet=string.ascii_letters, min_size=2, max_size=6),
    st.sampled_from(["com", "DE", "xn--p1ai", "рф", "中国"]),
)
hostnames = st.builds(
    lambda labels, tld, dot: ".".join([*labels, tld]) + dot,
    st.lists(_label, min_size=1, max_size=4),
    _tld,
    st.sampled_from(["", "."]),
)


def _is_accepted_global(address: IPAddress) -> bool:
    try:
        canonical_ip(str(address))
    except InvalidIndicator:
        return False
    return True


global_ipv4 = st.ip_addresses(v=4).filter(_is_accepted_global)
global_ipv6 = st.ip_addresses(v=6, network="2000::/3").filter(_is_accepted_global)
ip_spellings = st.one_of(
    global_ipv4.map(str),
    global_ipv6.map(lambda a: a.exploded.upper()),
    global_ipv6.map(str),
)

_hex_escape = st.builds(
    lambda a, b: f"%{a}{b}",
    st.sampled_from(string.hexdigits),
    st.sampled_from(string.hexdigits),
)
_url_chars = st.sampled_from([*_LDH, *"-._~!$&'()*+,;=:@/%", "é", "ü", "中"])
_url_text = st.lists(st.one_of(_url_chars, _hex_escape), max_size=30).map("".join)

url_hosts = st.one_of(
    hostnames,
    global_ipv4.map(str),
    global_ipv6.map(lambda a: f"[{a.exploded.upper()}]"),
)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, str]:
    """A URL and the part after its authority (path, query, fragment) as generated."""
    scheme = draw(st.sampled_from(["http", "https", "ftp", "ftps"]).flatmap(_random_case))
    userinfo = draw(st.sampled_from(["", "user@", "User:PaSs@"]))
    host = draw(url_hosts)
    port = draw(st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")))
    path = draw(st.one_of(st.just(""), _url_text.map(lambda s: "/" + s)))
    query = draw(st.one_of(st.just(""), _url_text.map(lambda s: "?" + s.replace("#", ""))))
    fragment = draw(st.one_of(st.just(""), _url_text.map(lambda s: "#" + s)))
    # A generated path must not contain ? or # (they would start the query/fragment).
    tail = path + query + fragment
    return f"{scheme}://{userinfo}{host}{port}{tail}", tail


_ESCAPE_RE = re.compile(r"%[0-9a-fA-F]{2}")


def _authority_host(url: str) -> str:
    rest = url.split("://", 1)[1]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        return hostport[: hostport.index("]") + 1]
    return hostport.partition(":")[0]


@PROPERTY_SETTINGS
@given(urls())
def test_url_properties(generated: tuple[str, str]) -> None:
    url, tail = generated
    out = canonical_url(url)
    assert canonical_url(out) == out
    scheme = out.split("://", 1)[0]
    assert scheme == scheme.lower()
    host = _authority_host(out)
    assert host == host.lower()
    assert host.isascii()
    assert all(esc == esc.upper() for esc in _ESCAPE_RE.findall(out))
    # the rest is kept as received, bar the escapes' hex digits (and "/" for an empty path)
    expected_tail = _ESCAPE_RE.sub(lambda m: m.group(0).upper(), tail)
    if not tail.startswith("/"):
        expected_tail = "/" + expected_tail
    assert out.endswith(expected_tail)


@PROPERTY_SETTINGS
@given(hostnames)
def test_hostname_idempotent(name: str) -> None:
    out, reason = _attempt(canonical_hostname, name)
    if out is None:
        # generated labels can only fail on the IDNA / length / numeric-TLD rules
        assert reason == "invalid_hostname"
        return
    assert canonical_hostname(out) == out
    assert out == out.lower()
    assert out.isascii()
    assert not out.endswith(".")
    assert len(out) <= 253


@PROPERTY_SETTINGS
@given(ip_spellings)
def test_ip_idempotent(value: str) -> None:
    out = canonical_ip(value)
    assert canonical_ip(out) == out
    assert out == out.lower()
    assert ipaddress.ip_address(out) == ipaddress.ip_address(value)
    kind = ip_indicator_type(value)
    assert canonicalize(kind, value) == out


@PROPERTY_SETTINGS
@given(st.ip_addresses().filter(lambda a: a.is_global))
def test_ip_indicator_type_agrees_with_ipaddress(address: IPAddress) -> None:
    parsed = ipaddress.ip_address(str(address))
    mapped = isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None
    expected = T.IPV4 if parsed.version == 4 or mapped else T.IPV6
    assert ip_indicator_type(str(address)) is expected
    assert ip_indicator_type(address.exploded.upper()) is expected


@PROPERTY_SETTINGS
@given(
    st.one_of(
        st.tuples(global_ipv4, st.integers(8, 32)),
        st.tuples(global_ipv6, st.integers(16, 128)),
    )
)
def test_cidr_idempotent(pair: tuple[IPAddress, int]) -> None:
    address, prefix = pair
    out, reason = _attempt(canonical_cidr, f"{address}/{prefix}")
    if out is None:
        assert reason == "non_global_ip"  # a wider prefix may reach non-global space
        return
    assert canonical_cidr(out) == out
    network = ipaddress.ip_network(out)
    assert address in network
    assert network.prefixlen == prefix


_HASH_TYPES = {
    T.FILEHASH_MD5: 16,
    T.FILEHASH_SHA1: 20,
    T.FILEHASH_SHA256: 32,
    T.FILEHASH_PEHASH: 20,
    T.FILEHASH_IMPHASH: 16,
    T.JA3: 16,
    T.SSL_CERT_FINGERPRINT: 32,
}


@PROPERTY_SETTINGS
@given(st.sampled_from(sorted(_HASH_TYPES)), st.data())
def test_hash_idempotent(kind: T, data: st.DataObject) -> None:
    raw = data.draw(st.binary(min_size=_HASH_TYPES[kind], max_size=_HASH_TYPES[kind]))
    spelt = data.draw(_random_case(raw.hex()))
    out = canonical_hash(spelt, kind)
    assert out == raw.hex()
    assert canonical_hash(out, kind) == out
    assert canonicalize(kind, spelt) == out


@PROPERTY_SETTINGS
@given(st.sampled_from(list(T)), st.one_of(st.text(), st.text(alphabet="0123456789abcdefABCDEF:./%[]-_@xn ")))
def test_any_text_is_rejected_cleanly_or_idempotent(kind: T, raw: str) -> None:
    try:
        out_kind, out, _ = canonical_indicator(kind, raw)
    except InvalidIndicator as err:
        reason = err.reason
        assert reason in REASONS
        return
    # canonicalisation may change the type (URI -> URL, mapped IPv6 -> IPv4): idempotent on the pair
    assert canonical_indicator(out_kind, out)[:2] == (out_kind, out)
    if out_kind is kind:
        assert canonicalize(kind, out) == out


@PROPERTY_SETTINGS
@given(st.sampled_from(["otx", "urlhaus", "abuseipdb"]), st.sampled_from(list(T)), st.text())
def test_document_id_format(source: str, kind: T, value: str) -> None:
    ident = indicator_keys(source, kind, value)[0]
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,255}", ident)
    assert ident == indicator_keys(source, kind.value, value)[0]
    assert ident.endswith(_sha256(value))


@PROPERTY_SETTINGS
@given(st.text(min_size=1), st.text())
def test_document_id_never_contains_raw_value_with_slash(prefix: str, suffix: str) -> None:
    value = f"{prefix}/{suffix}"
    ident = indicator_keys("otx", T.URL, value)[0]
    assert value not in ident
    assert "/" not in ident


@PROPERTY_SETTINGS
@given(st.sampled_from(list(T)), st.text())
def test_partition_key_format(kind: T, value: str) -> None:
    key = merged_keys(kind, value)[1]
    assert key == f"{kind.value}_{_sha256(value)[:2]}"
    assert re.fullmatch(rf"{re.escape(kind.value)}_[0-9a-f]{{2}}", key)
    assert merged_keys(kind.value, value)[1] == key
