"""Golden tables from a peer's own test data: IntelMQ's harmonization tests.

Source: ``certtools/intelmq``, ``intelmq/tests/lib/test_harmonization.py`` (the IP address,
IP network, FQDN, URL and TLP assertions). For each value: IntelMQ's verdict (in the mode
its test uses: ``is_valid`` on an already-normalised value, or ``sanitize=True``), our
verdict and canonical form (or reason code), and, wherever the two differ on purpose, a
one-line reason. ``docs/canonical.md`` lists the same differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from threatstream.canonical.dispatch import canonical_indicator
from threatstream.canonical.errors import REASONS, InvalidIndicator
from threatstream.canonical.vocabulary import TLP
from threatstream.canonical.vocabulary import IndicatorType as T

# Reasons shared by several rows.
NOT_GLOBAL = "documentation, loopback and private addresses are not threat indicators (RFC 6890)"
BYTES = "values arrive as text from JSON; bytes and Python objects are not indicator values"
STRICT = "IntelMQ's strict check refuses a non-canonical spelling; we canonicalise it (as its sanitize does)"
NEEDS_PREFIX = "a CIDR indicator needs its /prefix: a bare address is an IPv4/IPv6 indicator"
EMPTY_PATH = "an empty URL path is '/' (RFC 3986 section 6.2.3), so both spellings are one indicator"


@dataclass(frozen=True)
class PeerCase:
    """One IntelMQ assertion next to our verdict."""

    peer_check: str  # IntelMQ class and mode, e.g. "IPAddress.is_valid(sanitize=True)"
    value: object
    peer_accepts: bool
    kind: T  # our indicator type for the same value
    expected: str  # our canonical value, or our reason code when we reject
    peer_form: str | None = None  # the sanitised form IntelMQ's test asserts, if any
    difference: str = ""  # why our verdict or form differs, on purpose

    @property
    def accepted(self) -> bool:
        return self.expected not in REASONS

    @property
    def peer_canonical(self) -> str | None:
        """The form IntelMQ keeps: the asserted sanitised form, or a value its strict check accepts."""
        if self.peer_form is not None:
            return self.peer_form
        strict = "sanitize" not in self.peer_check
        return self.value if strict and self.peer_accepts and isinstance(self.value, str) else None


CASES: list[PeerCase] = [
    # -- IPAddress ------------------------------------------------------------------------------
    PeerCase("IPAddress.is_valid", "192.0.2.1", True, T.IPV4, "non_global_ip", difference=NOT_GLOBAL),
    PeerCase("IPAddress.is_valid", "::1", True, T.IPV6, "non_global_ip", difference=NOT_GLOBAL),
    PeerCase("IPAddress.is_valid", "2001:500:88:200::8", True, T.IPV6, "2001:500:88:200::8"),
    PeerCase("IPAddress.is_valid", "192.0.2.1/24", False, T.IPV4, "invalid_ip"),
    PeerCase("IPAddress.is_valid", "2001:DB8::/32", False, T.IPV6, "invalid_ip"),
    PeerCase("IPAddress.is_valid", "localhost", False, T.IPV4, "invalid_ip"),
    PeerCase("IPAddress.is_valid", "fe80::1c41:b16d:ff5e:689d%bnep0", False, T.IPV6, "invalid_ip"),
    PeerCase(
        "IPAddress.sanitize",
        " 192.0.2.1\r\n",
        True,
        T.IPV4,
        "non_global_ip",
        peer_form="192.0.2.1",
        difference=NOT_GLOBAL,
    ),
    PeerCase(
        "IPAddress.is_valid(sanitize=True)", b"2001:DB8::1", True, T.IPV6, "not_a_string", difference=BYTES
    ),
    PeerCase(
        "IPAddress.is_valid(sanitize=True)",
        "fe80::1c41:b16d:ff5e:689d%bnep0",
        True,
        T.IPV6,
        "invalid_ip",
        difference="a zone id names one host's interface: never an indicator (and fe80::/10 is link-local)",
    ),
    PeerCase(
        "IPAddress.sanitize",
        "2130706433",
        True,
        T.IPV4,
        "invalid_ip",
        peer_form="127.0.0.1",
        difference="integer-form addresses are refused: a bare number is too often something else",
    ),
    PeerCase(
        "IPAddress.sanitize",
        2130706433,
        True,
        T.IPV4,
        "not_a_string",
        peer_form="127.0.0.1",
        difference=BYTES,
    ),
    PeerCase("IPAddress.is_valid(sanitize=True)", " 192.0.2.0/24\r\n", False, T.IPV4, "invalid_ip"),
    PeerCase("IPAddress.is_valid(sanitize=True)", b"2001:DB8::1/32", False, T.IPV6, "not_a_string"),
    # -- IPNetwork ------------------------------------------------------------------------------
    PeerCase("IPNetwork.is_valid", "192.0.2.1", True, T.CIDR, "invalid_cidr", difference=NEEDS_PREFIX),
    PeerCase("IPNetwork.is_valid", "::1", True, T.CIDR, "invalid_cidr", difference=NEEDS_PREFIX),
    PeerCase("IPNetwork.is_valid", "192.0.2.0/24", True, T.CIDR, "non_global_ip", difference=NOT_GLOBAL),
    PeerCase("IPNetwork.is_valid", "2001:DB8::/32", True, T.CIDR, "non_global_ip", difference=NOT_GLOBAL),
    PeerCase(
        "IPNetwork.is_valid", "2001:500:88:200::8", True, T.CIDR, "invalid_cidr", difference=NEEDS_PREFIX
    ),
    PeerCase("IPNetwork.is_valid", "localhost", False, T.CIDR, "invalid_cidr"),
    PeerCase("IPNetwork.is_valid", "192.0.2.1/37", False, T.CIDR, "invalid_cidr"),
    PeerCase("IPNetwork.is_valid", "192.0.2.1/0", False, T.CIDR, "non_global_ip"),
    PeerCase("IPNetwork.is_valid", "2001:DB8::/130", False, T.CIDR, "invalid_cidr"),
    PeerCase(
        "IPNetwork.is_valid(sanitize=True)",
        " 192.0.2.0/24\r\n",
        True,
        T.CIDR,
        "non_global_ip",
        difference=NOT_GLOBAL,
    ),
    PeerCase(
        "IPNetwork.is_valid(sanitize=True)", b"2001:DB8::/32", True, T.CIDR, "not_a_string", difference=BYTES
    ),
    PeerCase(
        "IPNetwork.is_valid(sanitize=True)",
        "127.0.0.1/32",
        True,
        T.CIDR,
        "non_global_ip",
        difference=NOT_GLOBAL,
    ),
    PeerCase("IPNetwork.is_valid(sanitize=True)", " 192.0.2.0/-4\r\n", False, T.CIDR, "invalid_cidr"),
    PeerCase("IPNetwork.is_valid(sanitize=True)", b"2001:DB8Z::1/7", False, T.CIDR, "not_a_string"),
    # -- FQDN -----------------------------------------------------------------------------------
    PeerCase("FQDN.is_valid", "ex-am.ple.example", True, T.DOMAIN, "ex-am.ple.example"),
    PeerCase("FQDN.is_valid", "example.org", True, T.DOMAIN, "example.org"),
    PeerCase("FQDN.is_valid", "sub_sub2.example.net", True, T.DOMAIN, "sub_sub2.example.net"),
    PeerCase("FQDN.is_valid", "xn--1-0ga.at", True, T.DOMAIN, "xn--1-0ga.at"),
    PeerCase(
        "FQDN.is_valid",
        "212.156.101.43.00-ebgp-atakoy1-k.301-fra-col-1.statik.turktelekom.com.tr",
        True,
        T.HOSTNAME,
        "212.156.101.43.00-ebgp-atakoy1-k.301-fra-col-1.statik.turktelekom.com.tr",
    ),
    PeerCase("FQDN.is_valid", "ex-am.ple.example.", False, T.DOMAIN, "ex-am.ple.example", difference=STRICT),
    PeerCase("FQDN.is_valid", "exAmple.com", False, T.DOMAIN, "example.com", difference=STRICT),
    PeerCase("FQDN.is_valid", "ö1.at", False, T.DOMAIN, "xn--1-0ga.at", difference=STRICT),
    PeerCase("FQDN.is_valid", "n/a", False, T.DOMAIN, "invalid_hostname"),
    PeerCase("FQDN.is_valid", ".", False, T.DOMAIN, "invalid_hostname"),
    PeerCase("FQDN.is_valid", ".example.com", False, T.DOMAIN, "invalid_hostname"),
    PeerCase("FQDN.is_valid", "10.0.0.1:8080", False, T.HOSTNAME, "invalid_hostname"),
    PeerCase("FQDN.is_valid(sanitize=True)", "example.example.", True, T.DOMAIN, "example.example"),
    PeerCase("FQDN.is_valid(sanitize=True)", "example.net", True, T.DOMAIN, "example.net"),
    PeerCase("FQDN.is_valid(sanitize=True)", "exAmple.net", True, T.DOMAIN, "example.net"),
    PeerCase("FQDN.is_valid(sanitize=True)", "ö1.at", True, T.DOMAIN, "xn--1-0ga.at"),
    PeerCase(
        "FQDN.is_valid(sanitize=True)",
        "212.156.101.43.00-ebgp-atakoy1-k.301-fra-col-1.statik.turktelekom.com.tr",
        True,
        T.HOSTNAME,
        "212.156.101.43.00-ebgp-atakoy1-k.301-fra-col-1.statik.turktelekom.com.tr",
    ),
    PeerCase(
        "FQDN.is_valid(sanitize=True)",
        ".example.com",
        True,
        T.DOMAIN,
        "invalid_hostname",
        difference="an empty label is malformed; dropping it would guess what the feed meant",
    ),
    PeerCase(
        "FQDN.sanitize",
        "{subid_3}&aff_sub4={subid_4}&aff_sub5={subid_5}&DOM=trackingmyli",
        False,
        T.DOMAIN,
        "invalid_hostname",
    ),
    PeerCase("FQDN.is_valid", "...", False, T.DOMAIN, "invalid_hostname"),
    PeerCase("FQDN.is_valid", "", False, T.DOMAIN, "empty"),
    # -- URL ------------------------------------------------------------------------------------
    PeerCase("URL.is_valid", "http://example.com", True, T.URL, "http://example.com/", difference=EMPTY_PATH),
    PeerCase("URL.is_valid", "http://example.com/foo", True, T.URL, "http://example.com/foo"),
    PeerCase(
        "URL.is_valid",
        "file://localhost/etc/hosts",
        True,
        T.URL,
        "invalid_url",
        difference="only http(s) and ftp(s) URLs are network indicators; file: names a local file",
    ),
    PeerCase("URL.is_valid", "example.com", False, T.URL, "invalid_url"),
    PeerCase("URL.is_valid", " http://example.com", False, T.URL, "http://example.com/", difference=STRICT),
    PeerCase("URL.is_valid", "file:///etc/hosts", False, T.URL, "invalid_url"),
    PeerCase(
        "URL.is_valid(sanitize=True)", b"http://example.com", True, T.URL, "not_a_string", difference=BYTES
    ),
    PeerCase(
        "URL.is_valid(sanitize=True)", "hxxps://example.com/foo", True, T.URL, "https://example.com/foo"
    ),
    PeerCase(
        "URL.is_valid(sanitize=True)",
        "file:///etc/hosts",
        True,
        T.URL,
        "invalid_url",
        difference="only http(s) and ftp(s) URLs are network indicators; file: names a local file",
    ),
    PeerCase(
        "URL.sanitize",
        " http://example.com",
        True,
        T.URL,
        "http://example.com/",
        peer_form="http://example.com",
        difference=EMPTY_PATH,
    ),
    PeerCase("URL.is_valid(sanitize=True)", "example.com", False, T.URL, "invalid_url"),
    PeerCase("URL.is_valid(sanitize=True)", "http://", False, T.URL, "invalid_url"),
]


def _ours(case: PeerCase) -> str:
    try:
        return canonical_indicator(case.kind, case.value).value
    except InvalidIndicator as err:
        return err.reason


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.peer_check}:{c.value!r}")
def test_against_intelmq(case: PeerCase) -> None:
    assert _ours(case) == case.expected
    verdict_differs = case.accepted != case.peer_accepts
    peer_canonical = case.peer_canonical
    form_differs = case.accepted and peer_canonical is not None and peer_canonical != case.expected
    # every deliberate difference carries its reason, and no agreement claims one
    assert bool(case.difference) == (verdict_differs or form_differs), case


def test_table_covers_the_intelmq_assertions() -> None:
    assert len(CASES) >= 60
    assert {c.peer_check.split(".")[0] for c in CASES} == {"IPAddress", "IPNetwork", "FQDN", "URL"}


# -- TLP ----------------------------------------------------------------------------------------
# IntelMQ's TLP type is the TLP 1.0 vocabulary in upper case (WHITE, GREEN, AMBER, RED).

TLP_CASES: list[tuple[str, object, bool, TLP | None, str]] = [
    ("TLP.is_valid", "WHITE", True, TLP.CLEAR, ""),
    ("TLP.is_valid", "green", False, TLP.GREEN, STRICT),
    ("TLP.is_valid(sanitize=True)", "TLP:RED", True, TLP.RED, ""),
    ("TLP.is_valid(sanitize=True)", "red ", True, TLP.RED, ""),
    ("TLP.is_valid(sanitize=True)", "tlp amber ", True, TLP.AMBER, ""),
    ("TLP.sanitize", "tlp:amber", True, TLP.AMBER, ""),
    ("TLP.sanitize", "tlp amber", True, TLP.AMBER, ""),
    (
        "TLP.sanitize",
        "YELLOW",
        True,
        None,
        "YELLOW is no TLP 1.0 or 2.0 label: kept as unknown (raw_metadata, tlp null), not guessed as AMBER",
    ),
    ("TLP.is_valid", "TLP AMBER", False, TLP.AMBER, STRICT),
]


@pytest.mark.parametrize(("peer_check", "label", "peer_accepts", "expected", "difference"), TLP_CASES)
def test_tlp_against_intelmq(
    peer_check: str, label: object, peer_accepts: bool, expected: TLP | None, difference: str
) -> None:
    assert TLP.parse(label) is expected
    assert bool(difference) == ((expected is not None) != peer_accepts), peer_check
