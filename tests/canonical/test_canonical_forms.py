"""Canonical forms that agree with the DNS and with how feeds write indicators.

Underscores in host names, refanging, absolute URIs as URLs, IPv4-mapped addresses as IPv4,
control characters, and the single-lookup global-address check (against the range-by-range
reference it replaced).
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threatstream.canonical import addresses, dispatch, urls
from threatstream.canonical.dispatch import canonical_indicator, canonicalize
from threatstream.canonical.errors import REASONS, InvalidIndicator
from threatstream.canonical.refang import refang
from threatstream.canonical.text import CanonicalIndicator
from threatstream.canonical.vocabulary import IndicatorType as T
from threatstream.records.indicators import Observation

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
INGESTED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _reason(kind: T | str, value: object) -> str:
    with pytest.raises(InvalidIndicator) as excinfo:
        canonicalize(kind, value)
    return excinfo.value.reason


def _stored(kind: T, value: str) -> dict[str, object]:
    observation = Observation(indicator_type=kind, value=value, raw_metadata={"k": "v"})
    return observation.to_document("otx", ingested_at=INGESTED, default_ttl=timedelta(days=1))


# ----------------------------------------------------------------------------------------------
# Underscores (RFC 2181 section 11; RFC 3986 section 3.2.2 reg-name)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (T.DOMAIN, "sub_sub2.example.net", "sub_sub2.example.net"),
        (T.DOMAIN, "_dmarc.Example.COM", "_dmarc.example.com"),
        (T.DOMAIN, "exa_mple.com", "exa_mple.com"),
        (T.HOSTNAME, "_sip._tcp.example.com.", "_sip._tcp.example.com"),
        (T.HOSTNAME, "a_.b_.example", "a_.b_.example"),
        (T.HOSTNAME, "_dmarc.bücher.example", "_dmarc.xn--bcher-kva.example"),
        (T.URL, "http://Sub_Sub2.Example.net/x", "http://sub_sub2.example.net/x"),
        (T.URL, "https://my_host.ddns.example:8443/a", "https://my_host.ddns.example:8443/a"),
    ],
)
def test_underscores_are_legal_in_host_names(kind: T, raw: str, expected: str) -> None:
    assert canonicalize(kind, raw) == expected
    assert canonicalize(kind, expected) == expected


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    [
        (T.DOMAIN, "-a_b.example", "invalid_hostname"),  # a leading hyphen stays illegal
        (T.DOMAIN, "a_b-.example", "invalid_hostname"),
        (T.DOMAIN, "bü_cher.example", "invalid_hostname"),  # IDNA labels cannot hold "_"
        (T.EMAIL, "user@exa_mple.com", "invalid_email"),  # RFC 5321 mail domains are LDH
    ],
)
def test_underscore_limits(kind: T, raw: str, reason: str) -> None:
    assert _reason(kind, raw) == reason


# ----------------------------------------------------------------------------------------------
# Refanging

REFANGED: list[tuple[T, str, T, str]] = [
    (T.URL, "hxxp://evil[.]example[.]com/a", T.URL, "http://evil.example.com/a"),
    (T.URL, "hxxps://evil.example.com/", T.URL, "https://evil.example.com/"),
    (T.URL, "hXXps://Evil.Example.com", T.URL, "https://evil.example.com/"),
    (T.URL, "HXXP://evil.example.com/", T.URL, "http://evil.example.com/"),
    (T.URL, "fxp://files.example.com/a.bin", T.URL, "ftp://files.example.com/a.bin"),
    (T.URL, "http[:]//evil.example.com/", T.URL, "http://evil.example.com/"),
    (T.URL, "hxxp[:]//evil(.)example{.}com:8080/x", T.URL, "http://evil.example.com:8080/x"),
    (T.URL, "hxxp[://]evil[dot]example[DOT]com", T.URL, "http://evil.example.com/"),
    (T.URL, "hxxp://1.2.3[.]4/bins/mozi.m", T.URL, "http://1.2.3.4/bins/mozi.m"),
    (T.URL, "hxxp://user[at]evil[.]example.com/", T.URL, "http://user@evil.example.com/"),
    (T.URL, "hxxp://evil[.]example.com/payload[.]exe", T.URL, "http://evil.example.com/payload.exe"),
    # after the authority only square brackets are refanged: ( ) and { } are legal there
    (T.URL, "hxxp://evil[.]example.com/a(.)b{.}c", T.URL, "http://evil.example.com/a(.)b{.}c"),
    (T.URL, "http://example.com/[[.]]", T.URL, "http://example.com/."),
    (T.DOMAIN, "evil[.]example[.]com", T.DOMAIN, "evil.example.com"),
    (T.DOMAIN, "evil(.)example(dot)com", T.DOMAIN, "evil.example.com"),
    (T.HOSTNAME, "www{.}evil[.]example", T.HOSTNAME, "www.evil.example"),
    (T.IPV4, "1.2.3[.]4", T.IPV4, "1.2.3.4"),
    (T.IPV4, "8[.]8[.]8[.]8", T.IPV4, "8.8.8.8"),
    (T.IPV6, "2a01[:]4f8[:]c17[:]1[:][:]1", T.IPV6, "2a01:4f8:c17:1::1"),
    (T.CIDR, "1.2.3[.]0/24", T.CIDR, "1.2.3.0/24"),
    (T.EMAIL, "user[at]example[.]com", T.EMAIL, "user@example.com"),
    (T.EMAIL, "User(at)Example(.)COM", T.EMAIL, "User@example.com"),
    (T.EMAIL, "user[@]example.com", T.EMAIL, "user@example.com"),
    (T.URI, "hxxp://Example.COM:80/a%2fb", T.URL, "http://example.com/a%2Fb"),
]


@pytest.mark.parametrize(("kind", "raw", "expected_kind", "expected"), REFANGED)
def test_defanged_values_are_refanged(kind: T, raw: str, expected_kind: T, expected: str) -> None:
    assert canonical_indicator(kind, raw) == (expected_kind, expected, True)
    assert canonical_indicator(expected_kind, expected) == (expected_kind, expected, False)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (T.FILEPATH, "C:\\Temp\\a[.]exe"),
        (T.MUTEX, "Global\\x[at]y"),
        (T.YARA, 'rule x { strings: $a = "[.]" condition: $a }'),
        (T.URI, "/index[.]php"),  # a relative URI is not refanged
        (T.URI, "mailto:user[at]example.com"),
    ],
)
def test_hashes_and_free_text_are_not_refanged(kind: T, raw: str) -> None:
    assert canonical_indicator(kind, raw) == (kind, raw, False)
    assert refang(kind, raw) == raw


def test_refanged_value_keeps_the_original_in_raw_metadata() -> None:
    document = _stored(T.URL, "hxxp://evil[.]example.com/x")
    assert document["indicator_value"] == "http://evil.example.com/x"
    assert document["raw_metadata"] == {"k": "v", "original_value": "hxxp://evil[.]example.com/x"}
    # only when refanging changed something: case and default ports are canonicalisation
    plain = _stored(T.URL, "HTTP://Evil.Example.com:80/x")
    assert plain["raw_metadata"] == {"k": "v"}
    assert plain["id"] == document["id"]


def test_refanged_address_is_the_same_indicator() -> None:
    assert _stored(T.IPV4, "8.8.8[.]8")["id"] == _stored(T.IPV4, "8.8.8.8")["id"]


def test_refanged_value_is_still_checked() -> None:
    assert _reason(T.URL, "hxxp://10.0.0[.]1/") == "non_global_ip"
    assert _reason(T.DOMAIN, "localhost[.]") == "invalid_hostname"
    assert _reason(T.URL, "hxxp://") == "invalid_url"


_defangs = st.sampled_from(["[.]", "(.)", "{.}", "[dot]", "(DOT)", "."])


@st.composite
def defanged_urls(draw: st.DrawFn) -> tuple[str, str]:
    """A defanged URL and the same URL written plainly."""
    # at most 20 labels of 10 characters: the host stays within 253 characters
    labels = draw(
        st.lists(st.text(string.ascii_lowercase + "_-", min_size=1, max_size=8), min_size=1, max_size=20)
    )
    labels = [f"a{label}a" for label in labels]
    tld = draw(st.sampled_from(["com", "net", "example"]))
    scheme, defanged_scheme = draw(st.sampled_from([("http", "hxxp"), ("https", "hXXps"), ("ftp", "fxp")]))
    colon = draw(st.sampled_from(["://", "[:]//", "[://]"]))
    path = draw(st.text(string.ascii_letters + string.digits + "/._~()", max_size=12))
    host = "".join(label + draw(_defangs) for label in labels) + tld
    return f"{defanged_scheme}{colon}{host}/{path}", f"{scheme}://{'.'.join([*labels, tld])}/{path}"


@PROPERTY_SETTINGS
@given(defanged_urls())
def test_defanged_urls_canonicalise_like_their_plain_spelling(pair: tuple[str, str]) -> None:
    defanged, plain = pair
    kind, value, refanged = canonical_indicator(T.URL, defanged)
    assert refanged
    assert (kind, value) == canonical_indicator(T.URL, plain)[:2]
    assert canonical_indicator(kind, value) == (kind, value, False)


@PROPERTY_SETTINGS
@given(st.sampled_from(list(T)), st.text(alphabet="[](){}.:/@atdoxhpfs1 ", max_size=30))
def test_refang_is_idempotent(kind: T, raw: str) -> None:
    once = refang(kind, raw)
    assert refang(kind, once) == once


# ----------------------------------------------------------------------------------------------
# URI indicators that are whole URLs


@pytest.mark.parametrize(
    ("raw", "expected_kind", "expected"),
    [
        ("HTTP://Example.COM:80/a%2fb", T.URL, "http://example.com/a%2Fb"),
        ("https://evil.example.com", T.URL, "https://evil.example.com/"),
        ("ftp://files.example.com/x", T.URL, "ftp://files.example.com/x"),
        (" /wp-admin/admin-ajax.php?action=X ", T.URI, "/wp-admin/admin-ajax.php?action=X"),
        ("/A%2fb", T.URI, "/A%2fb"),  # a relative URI is kept as received
        ("//cdn.example.com/x.js", T.URI, "//cdn.example.com/x.js"),  # network-path reference
        ("mailto:a@example.com", T.URI, "mailto:a@example.com"),
        ("urn:isbn:0451450523", T.URI, "urn:isbn:0451450523"),
    ],
)
def test_absolute_web_uris_are_urls(raw: str, expected_kind: T, expected: str) -> None:
    assert canonical_indicator(T.URI, raw)[:2] == (expected_kind, expected)
    assert canonical_indicator(expected_kind, expected)[:2] == (expected_kind, expected)
    assert canonicalize(T.URI, raw) == expected


def test_uri_and_url_reports_are_one_indicator_in_a_merged_view() -> None:
    as_uri = _stored(T.URI, "HTTP://Example.COM:80/a%2fb")
    as_url = _stored(T.URL, "http://example.com/a%2Fb")
    for key in ("id", "partition_key", "indicator_type", "indicator_value"):
        assert as_uri[key] == as_url[key]
    assert as_uri["raw_metadata"] == {"k": "v", "original_type": "URI"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("http://10.0.0.1/x", "non_global_ip"),
        ("http:relative/path", "invalid_url"),
        ("http://exa mple.com/", "invalid_url"),
        ("https://" + "a" * 9000, "too_long"),
    ],
)
def test_absolute_web_uris_are_checked_as_urls(raw: str, reason: str) -> None:
    assert _reason(T.URI, raw) == reason


# ----------------------------------------------------------------------------------------------
# IPv4-mapped IPv6 addresses are the IPv4 address they carry


@pytest.mark.parametrize(
    ("kind", "raw", "expected_kind", "expected"),
    [
        (T.IPV6, "::ffff:8.8.8.8", T.IPV4, "8.8.8.8"),
        (T.IPV6, "::FFFF:8.8.8.8", T.IPV4, "8.8.8.8"),
        (T.IPV6, "::ffff:808:808", T.IPV4, "8.8.8.8"),
        (T.IPV6, "0:0:0:0:0:ffff:0808:0808", T.IPV4, "8.8.8.8"),
        (T.IPV4, "::ffff:8.8.8.8", T.IPV4, "8.8.8.8"),
        (T.CIDR, "::ffff:8.8.8.8/120", T.CIDR, "8.8.8.0/24"),
        (T.CIDR, "::ffff:8.8.8.8/128", T.CIDR, "8.8.8.8/32"),
        (T.URL, "http://[::ffff:8.8.8.8]:8080/x", T.URL, "http://8.8.8.8:8080/x"),
    ],
)
def test_ipv4_mapped_addresses_are_ipv4(kind: T, raw: str, expected_kind: T, expected: str) -> None:
    assert canonical_indicator(kind, raw)[:2] == (expected_kind, expected)
    assert canonical_indicator(expected_kind, expected)[:2] == (expected_kind, expected)


def test_ipv4_mapped_report_is_the_ipv4_indicator() -> None:
    mapped = _stored(T.IPV6, "::ffff:8.8.8.8")
    plain = _stored(T.IPV4, "8.8.8.8")
    assert (mapped["id"], mapped["indicator_type"]) == (plain["id"], "IPv4")
    assert mapped["raw_metadata"] == {"k": "v", "original_type": "IPv6"}


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    [
        (T.IPV6, "::ffff:10.0.0.1", "non_global_ip"),
        (T.IPV6, "::ffff:127.0.0.1", "non_global_ip"),
        (T.IPV6, "8.8.8.8", "ip_version_mismatch"),  # a plain IPv4 address is not IPv6
        (T.IPV4, "2a01:4f8::1", "ip_version_mismatch"),
        (T.CIDR, "::ffff:10.0.0.0/104", "non_global_ip"),
    ],
)
def test_ipv4_mapped_limits(kind: T, raw: str, reason: str) -> None:
    assert _reason(kind, raw) == reason


# ----------------------------------------------------------------------------------------------
# Control characters: rejected the same way for every type

_CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
_SAMPLES: dict[T, str] = {
    T.IPV4: "8.8.8.8",
    T.IPV6: "2a01:4f8::1",
    T.CIDR: "8.8.8.0/24",
    T.DOMAIN: "example.com",
    T.HOSTNAME: "www.example.com",
    T.EMAIL: "user@example.com",
    T.URL: "http://example.com/x",
    T.URI: "/x",
    T.FILEHASH_MD5: MD5,
    T.FILEHASH_SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    T.FILEHASH_SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    T.FILEHASH_PEHASH: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    T.FILEHASH_IMPHASH: MD5,
    T.FILEPATH: "C:\\Temp\\evil.exe",
    T.MUTEX: "Global\\MyMutex",
    T.CVE: "CVE-2021-44228",
    T.YARA: "rule x { condition: true }",
    T.JA3: MD5,
    T.OSQUERY: "SELECT * FROM processes;",
    T.SSL_CERT_FINGERPRINT: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    T.BITCOIN_ADDRESS: "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
}


def test_every_type_has_a_sample() -> None:
    assert set(_SAMPLES) == set(T)
    for kind, sample in _SAMPLES.items():
        canonicalize(kind, sample)


@pytest.mark.parametrize("kind", list(T))
@pytest.mark.parametrize("control", _CONTROL)
def test_control_characters_are_rejected_for_every_type(kind: T, control: str) -> None:
    sample = _SAMPLES[kind]
    for value in (sample[:3] + control + sample[3:], sample + control, control + sample):
        assert _reason(kind, value) == "control_character"


def test_nul_in_a_mutex_never_reaches_the_store() -> None:
    observation = Observation(indicator_type=T.MUTEX, value="Global\\evil\x00mutex")
    with pytest.raises(InvalidIndicator) as excinfo:
        observation.to_document("otx", ingested_at=INGESTED, default_ttl=timedelta(days=1))
    assert excinfo.value.reason == "control_character"
    assert "U+0000" in excinfo.value.message
    assert "\x00" not in str(excinfo.value)  # the message is printable


def test_tab_newline_and_carriage_return_are_whitespace_not_control() -> None:
    assert canonicalize(T.YARA, "rule x {\r\n\tcondition: true\r\n}") == "rule x {\r\n\tcondition: true\r\n}"
    assert canonicalize(T.MUTEX, "\tGlobal\\m\r\n") == "Global\\m"
    assert _reason(T.URL, "http://example.com/a\tb") == "invalid_url"
    assert _reason(T.DOMAIN, "exa\nmple.com") == "invalid_hostname"


def test_unpaired_surrogate_wins_over_control_character() -> None:
    assert _reason(T.MUTEX, "a\udcff\x00") == "not_a_string"
    assert _reason(T.MUTEX, "a\x00\udcff") == "not_a_string"


def test_docs_explain_every_reason_code() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "canonical.md").read_text(encoding="utf-8")
    table = docs.split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    explained = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE))
    assert "control_character" in REASONS
    assert explained == {*REASONS, "malformed_record"}


# ----------------------------------------------------------------------------------------------
# Global-address check: one range lookup, same verdict and message as the range-by-range loop


def _reference_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The check as it was: each listed range in turn, then ``ipaddress``'s own flags."""
    if isinstance(address, ipaddress.IPv4Address):
        for net4, kind in addresses._V4_NON_GLOBAL:
            if address in net4:
                return kind
    else:
        for net6, kind in addresses._V6_NON_GLOBAL:
            if address in net6:
                return kind
        if address not in addresses._V6_GLOBAL_UNICAST:
            return "reserved (outside 2000::/3)"
    return addresses._address_flags_kind(address)


def _table_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    table = addresses._V4_TABLE if address.version == 4 else addresses._V6_TABLE
    return table.kind(address.packed)


def _boundaries() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every edge (and its neighbours) of our ranges and of ``ipaddress``'s special ranges."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
        *(net for net, _ in addresses._V4_NON_GLOBAL),
        *(net for net, _ in addresses._V6_NON_GLOBAL),
        addresses._V6_GLOBAL_UNICAST,
    ]
    for constants in (ipaddress._IPv4Constants, ipaddress._IPv6Constants):  # type: ignore[attr-defined]
        for value in vars(constants).values():
            candidates = value if isinstance(value, list | tuple) else [value]
            networks.extend(
                n for n in candidates if isinstance(n, ipaddress.IPv4Network | ipaddress.IPv6Network)
            )
    out: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for net in networks:
        make = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
        top = 2**net.max_prefixlen - 1
        for edge in (int(net.network_address), int(net.broadcast_address)):
            out.extend(make(n) for n in (edge - 1, edge, edge + 1) if 0 <= n <= top)
    return out


def test_range_table_agrees_with_the_reference_on_every_boundary() -> None:
    boundaries = _boundaries()
    assert len(boundaries) > 200
    for address in boundaries:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            continue  # mapped addresses are checked as the IPv4 address they carry
        assert _table_kind(address) == _reference_kind(address), address


@PROPERTY_SETTINGS
@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6), st.ip_addresses(v=6, network="2000::/3")))
def test_range_table_agrees_with_the_reference(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return
    assert _table_kind(address) == _reference_kind(address)


@st.composite
def url_like(draw: st.DrawFn) -> str:
    """URLs near the simple canonical form, and every way to fall just outside it."""
    # Unicode characters that case-fold to ASCII letters (long s, Kelvin sign, dotted I) must
    # not pass for them.
    scheme = draw(st.sampled_from(["http", "https", "ftp", "ftps", "HTTP", "Https", "gopher", "http\u017f"]))
    host = draw(
        st.one_of(
            st.lists(st.from_regex(r"[a-z0-9_][a-z0-9_-]{0,12}", fullmatch=True), min_size=1, max_size=4).map(
                ".".join
            ),
            st.sampled_from(
                [
                    "8.8.8.8",
                    "10.0.0.1",
                    "192.168.1.1",
                    "256.1.1.1",
                    "1.2.3.04",
                    "example.123",
                    "xn--fa-hia.de",
                    "xn--zz.com",
                    "Example.COM",
                    "CDN6.HOST-67.EXAMPLE12.COM",
                    "examp\u212ae.com",
                    "\u0130nfo.com",
                    "example.com.",
                    "-bad.com",
                    "bad-.com",
                    "a..b",
                    ".a.com",
                    "a" * 64 + ".com",
                    ".".join(["abcdefghij"] * 24) + ".com",
                    "[2001:db8::1]",
                    "[2a00:1450::1]",
                    "user@example.com",
                ]
            ),
        )
    )
    port = draw(
        st.sampled_from(["", ":80", ":443", ":21", ":990", ":0", ":080", ":8080", ":65535", ":65536", ":"])
    )
    tail = draw(
        st.one_of(
            st.just(""),
            st.text(string.ascii_letters + string.digits + "/?#=&._~%()[]\\ ", max_size=16).map(
                lambda t: "/" + t
            ),
            st.sampled_from(["?q=1", "#top", "/a%2fb", "/a%2Fb", "/a b", "/a\\b", "/" + "x" * 9000]),
        )
    )
    return f"{scheme}://{host}{port}{tail}"


def _outcome(function: Callable[[str], CanonicalIndicator], text: str) -> object:
    try:
        return function(text)
    except InvalidIndicator as refused:
        return refused.reason


@settings(max_examples=1000, deadline=None)
@given(url_like())
def test_simple_urls_take_a_shortcut_to_the_same_canonical_form(text: str) -> None:
    assert _outcome(urls.url_indicator, text) == _outcome(urls._parsed_url, text)


_TEXT_NOISE = st.sampled_from(
    ["", " ", "\t", "\x00", "\x07", "\x85", "\x9f", "\ud800", "[.]", "(.)", "[:]", "{.}", "hxxp"]
)


_SHORTCUT_KINDS = [T.URL, T.IPV4, T.URI, "URL", T.DOMAIN, T.HOSTNAME, T.FILEHASH_MD5, T.FILEHASH_SHA256]
_SHORTCUT_KINDS += [T.SSL_CERT_FINGERPRINT, T.EMAIL, T.IPV6]
_hex_like = st.one_of(
    st.sampled_from([32, 40, 64]).flatmap(lambda n: st.text("0123456789abcdef", min_size=n, max_size=n)),
    st.text("0123456789abcdefABCDEF:g", min_size=30, max_size=66),
)
_near_canonical_hosts = st.sampled_from(
    ["xn--zz.com", "xn--fa-hia.de", "a..b", "-bad.com", "8.8.8.8", "example.123", "_dmarc.example.com"]
)


def _ipv6_forms(address: ipaddress.IPv6Address) -> list[str]:
    """``address`` as RFC 5952 writes it and fully written out; its last 32 bits as an
    IPv4-mapped and an IPv4-compatible address, in hex and with a dotted quad."""
    low = address.packed[-4:].hex()
    quad = ipaddress.IPv4Address(address.packed[-4:])
    mapped = [f"::ffff:{low[:4]}:{low[4:]}", f"::{low[:4]}:{low[4:]}", f"::ffff:{quad}", f"::{quad}"]
    return [str(address), address.exploded, *mapped]


_ipv6_texts = st.ip_addresses(v=6).flatmap(lambda address: st.sampled_from(_ipv6_forms(address)))


@settings(max_examples=1500, deadline=None)
@given(
    url_like(),
    _hex_like,
    _near_canonical_hosts,
    _ipv6_texts,
    st.sampled_from(_SHORTCUT_KINDS),
    _TEXT_NOISE,
    st.integers(0, 40),
    st.sampled_from(["", " ", "\n"]),
)
def test_shortcuts_of_canonical_indicator_give_what_the_full_path_gives(
    url: str, digest: str, near_host: str, ipv6: str, kind: T | str, noise: str, at: int, edge: str
) -> None:
    # A value the shortcuts take must be one that needs nothing of what they skip (stripping,
    # the control-character and surrogate checks, refanging): noise anywhere must not slip by.
    host = url.partition("://")[2].partition("/")[0]
    for clean in (url, host, digest, near_host, ipv6):
        noisy = (
            f"{edge}{clean}{edge}",
            f"{clean[:at]}{noise}{clean[at:]}",
            f"{clean}{noise}",
            f"{clean}/{noise}x",
        )
        for text in (clean, clean.upper(), clean.title(), f"{clean}.", *noisy):
            shortcut = _outcome(lambda t: canonical_indicator(kind, t), text)
            in_full = _outcome(lambda t: dispatch._canonical_in_full(kind, t), text)
            assert shortcut == in_full


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=300)
def test_an_ipv4_number_is_spelled_as_the_canonical_text(number: int) -> None:
    text = addresses.address_text(4, number)
    assert addresses.parse_address(text).text == text
    assert int(ipaddress.IPv4Address(text)) == number


@given(st.integers(0, 2**128 - 1).filter(lambda n: ipaddress.IPv6Address(n).ipv4_mapped is None))
@settings(max_examples=300)
def test_an_ipv6_number_is_spelled_as_the_canonical_text(number: int) -> None:
    text = addresses.address_text(6, number)
    assert addresses.parse_address(text).text == text
    assert int(ipaddress.IPv6Address(text)) == number
