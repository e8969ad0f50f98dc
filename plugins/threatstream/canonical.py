"""Canonical forms of indicator values, and the document id / partition key derived from them.

Every source maps its raw values through :func:`canonicalize` before anything is stored, so the
same indicator reported by URLhaus, OTX and AbuseIPDB (or twice by one of them, spelt
differently) ends up with the same canonical value, the same :func:`indicator_id` and the same
:func:`partition_key`.

Pure functions only: no I/O, no Airflow. Every canonicaliser is idempotent, i.e.
``canonicalize(t, canonicalize(t, v)) == canonicalize(t, v)``; a value that cannot be made
canonical raises :class:`InvalidIndicator` with a short machine-friendly ``reason``.

Reason codes: ``not_a_string``, ``empty``, ``unknown_type``, ``too_long``, ``invalid_url``,
``invalid_host``, ``invalid_hostname``, ``not_a_hostname``, ``invalid_ip``,
``ip_version_mismatch``, ``invalid_cidr``, ``non_global_ip``, ``invalid_hash``,
``invalid_cve``, ``invalid_email``, ``invalid_bitcoin_address``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from typing import TypeAlias

import idna

from threatstream.vocabulary import IndicatorType

__all__ = [
    "REASONS",
    "InvalidIndicator",
    "canonical_cidr",
    "canonical_cve",
    "canonical_email",
    "canonical_hash",
    "canonical_hostname",
    "canonical_ip",
    "canonical_url",
    "canonicalize",
    "indicator_id",
    "ip_indicator_type",
    "partition_key",
]

#: Every ``InvalidIndicator.reason`` this module can produce.
REASONS: frozenset[str] = frozenset(
    {
        "not_a_string",
        "empty",
        "unknown_type",
        "too_long",
        "invalid_url",
        "invalid_host",
        "invalid_hostname",
        "not_a_hostname",
        "invalid_ip",
        "ip_version_mismatch",
        "invalid_cidr",
        "non_global_ip",
        "invalid_hash",
        "invalid_cve",
        "invalid_email",
        "invalid_bitcoin_address",
    }
)


class InvalidIndicator(ValueError):
    """A value that cannot be canonicalised; ``reason`` is a short machine-friendly code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidIndicator], tuple[str, str]]:
        # Keep the exception picklable (Airflow / multiprocessing) despite the two-arg __init__.
        return (type(self), (self.reason, self.message))


# --------------------------------------------------------------------------------------------
# Limits (measured in UTF-8 bytes of the stripped value)

URL_MAX_BYTES = 8192
TEXT_MAX_BYTES = 2048
LONG_TEXT_MAX_BYTES = 32 * 1024
HOSTNAME_MAX_CHARS = 253
LABEL_MAX_CHARS = 63

_SOURCE_RE = re.compile(r"[a-z0-9_.-]{1,64}")


def _short(value: str, limit: int = 80) -> str:
    """A bounded repr of ``value`` for error messages."""
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + "..."


def _prepare(value: object) -> str:
    """Check the value is a non-blank string; return it stripped of surrounding whitespace."""
    if not isinstance(value, str):
        if value is None:
            raise InvalidIndicator("empty", "value is missing (None)")
        raise InvalidIndicator("not_a_string", f"expected a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidIndicator(
            "not_a_string", "value contains unpaired surrogates (not valid Unicode)"
        ) from None
    stripped = value.strip()
    if not stripped:
        raise InvalidIndicator("empty", "value is empty or whitespace only")
    return stripped


def _check_size(value: str, limit: int) -> None:
    size = len(value.encode("utf-8"))
    if size > limit:
        raise InvalidIndicator("too_long", f"value is {size} bytes long, the limit is {limit}")


def _has_space_or_control(value: str) -> bool:
    return any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value)


def _coerce_type(indicator_type: IndicatorType | str) -> IndicatorType:
    if isinstance(indicator_type, IndicatorType):
        return indicator_type
    try:
        return IndicatorType(indicator_type)
    except ValueError:
        raise InvalidIndicator(
            "unknown_type", f"unknown indicator type {_short(str(indicator_type))}"
        ) from None


# --------------------------------------------------------------------------------------------
# IP addresses and networks

_IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Special-purpose ranges that are not globally reachable, with the kind named in error messages.
# Order matters only for the message: the first listed range a value falls in (or, for a
# network, overlaps) is the one reported.
_V4_NON_GLOBAL: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "'this network' (reserved)"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment (reserved)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking (reserved)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "limited broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)

_V6_NON_GLOBAL: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), kind)
    for net, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b::/96", "IPv4/IPv6 translation (NAT64)"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
        ("100::/64", "discard-only (reserved)"),
        ("2001::/23", "IETF protocol assignment (reserved)"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique-local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _address_flags_kind(address: _IPAddress) -> str | None:
    """Fallback classification with ``ipaddress``'s own flags (explicit multicast check first)."""
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local (deprecated)"
    if not address.is_global:
        return "special-purpose (not globally reachable)"
    return None


def _non_global_address_kind(address: _IPAddress) -> str | None:
    """The kind of non-global space ``address`` is in, or None if it is globally reachable."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # An IPv4-mapped IPv6 address is as global as the IPv4 address it carries.
        return _non_global_address_kind(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv4Address):
        for net4, kind in _V4_NON_GLOBAL:
            if address in net4:
                return kind
    else:
        for net6, kind in _V6_NON_GLOBAL:
            if address in net6:
                return kind
        if address not in _V6_GLOBAL_UNICAST:
            return "reserved (outside 2000::/3)"
    return _address_flags_kind(address)


def _non_global_network_kind(network: _IPNetwork) -> str | None:
    """The kind of non-global space ``network`` overlaps, or None if all of it is global."""
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_V4_MAPPED):
        carried = ipaddress.IPv4Network(
            (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96), strict=True
        )
        return _non_global_network_kind(carried)
    if isinstance(network, ipaddress.IPv4Network):
        for net4, kind in _V4_NON_GLOBAL:
            if network.overlaps(net4):
                return f"{kind} {net4}"
    else:
        for net6, kind in _V6_NON_GLOBAL:
            if network.overlaps(net6):
                return f"{kind} {net6}"
        if not network.subnet_of(_V6_GLOBAL_UNICAST):
            return "reserved (outside 2000::/3)"
    for endpoint in (network.network_address, network.broadcast_address):
        endpoint_kind = _address_flags_kind(endpoint)
        if endpoint_kind is not None:
            return endpoint_kind
    return None


def _format_address(address: _IPAddress) -> str:
    """Canonical text: dotted quad, or RFC 5952 (compressed, lower-case; mapped IPv4 dotted)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # RFC 5952 section 5; spelt out so the output does not depend on the Python version.
        return f"::ffff:{address.ipv4_mapped}"
    return address.compressed


def _parse_address(value: str) -> _IPAddress:
    if "%" in value:
        raise InvalidIndicator("invalid_ip", f"{_short(value)}: IPv6 zone ids are not accepted")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise InvalidIndicator("invalid_ip", f"{_short(value)} is not an IPv4 or IPv6 address") from None


def _require_global_address(address: _IPAddress, text: str) -> None:
    kind = _non_global_address_kind(address)
    if kind is not None:
        raise InvalidIndicator("non_global_ip", f"{text} is not globally routable: {kind} address")


def canonical_ip(value: str) -> str:
    """Canonical IPv4 (dotted quad) or IPv6 (compressed, lower-case) text of a global address."""
    text = _prepare(value)
    address = _parse_address(text)
    canonical = _format_address(address)
    _require_global_address(address, canonical)
    return canonical


def ip_indicator_type(value: str) -> IndicatorType:
    """IPv4 or IPv6, by the version of the address itself (whatever a source claims).

    Only parses the address; whether it is global is :func:`canonical_ip`'s business.
    An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is IPv6.
    """
    address = _parse_address(_prepare(value))
    return IndicatorType.IPV4 if address.version == 4 else IndicatorType.IPV6


def canonical_cidr(value: str) -> str:
    """Canonical ``network/prefix`` of a global network; host bits are cleared."""
    text = _prepare(value)
    if "/" not in text:
        raise InvalidIndicator("invalid_cidr", f"{_short(text)} has no /prefix")
    if "%" in text:
        raise InvalidIndicator("invalid_cidr", f"{_short(text)}: IPv6 zone ids are not accepted")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidIndicator("invalid_cidr", f"{_short(text)} is not a CIDR network") from None
    canonical = f"{_format_address(network.network_address)}/{network.prefixlen}"
    kind = _non_global_network_kind(network)
    if kind is not None:
        raise InvalidIndicator("non_global_ip", f"{canonical} is not globally routable: overlaps {kind}")
    return canonical


# --------------------------------------------------------------------------------------------
# Host names

_LDH_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_ACE_PREFIX = "xn--"


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _hostname(text: str, reason: str) -> str:
    """Canonicalise a stripped host name, raising ``reason`` for a malformed one."""
    if text.isascii():
        host = text.lower()
    else:
        try:
            host = idna.uts46_remap(text, std3_rules=False)
        except (idna.IDNAError, UnicodeError) as err:
            raise InvalidIndicator(reason, f"{_short(text)}: {err}") from None
    host = host.removesuffix(".")
    if _is_ip_address(host):
        raise InvalidIndicator("not_a_hostname", f"{_short(text)} is an IP address, not a host name")
    labels = host.split(".")
    out: list[str] = []
    for raw_label in labels:
        if not raw_label:
            raise InvalidIndicator(reason, f"{_short(text)} has an empty label")
        label = raw_label
        if not raw_label.isascii():
            try:
                label = idna.alabel(raw_label).decode("ascii")
            except (idna.IDNAError, UnicodeError) as err:
                raise InvalidIndicator(reason, f"{_short(text)}: label {_short(raw_label)}: {err}") from None
        elif raw_label.startswith(_ACE_PREFIX):
            _check_a_label(raw_label, text, reason)
        if len(label) > LABEL_MAX_CHARS:
            raise InvalidIndicator(reason, f"{_short(text)}: label longer than {LABEL_MAX_CHARS}")
        if not _LDH_LABEL_RE.fullmatch(label):
            raise InvalidIndicator(
                reason, f"{_short(text)}: label {_short(label)} is not letters, digits and inner hyphens"
            )
        out.append(label)
    if len(out) < 2:
        raise InvalidIndicator(reason, f"{_short(text)} needs at least two labels")
    if out[-1].isdigit():
        raise InvalidIndicator(reason, f"{_short(text)}: top-level label is all-numeric")
    canonical = ".".join(out)
    if len(canonical) > HOSTNAME_MAX_CHARS:
        raise InvalidIndicator(reason, f"{_short(text)}: longer than {HOSTNAME_MAX_CHARS} characters")
    return canonical


def _check_a_label(label: str, text: str, reason: str) -> None:
    """An ASCII ``xn--`` label must be the canonical A-label of a valid, UTS46-mapped U-label."""
    try:
        ulabel = idna.ulabel(label)
        valid = (
            not ulabel.isascii()
            and idna.uts46_remap(ulabel, std3_rules=False) == ulabel
            and idna.alabel(ulabel).decode("ascii") == label
        )
    except (idna.IDNAError, UnicodeError) as err:
        raise InvalidIndicator(reason, f"{_short(text)}: label {_short(label)}: {err}") from None
    if not valid:
        raise InvalidIndicator(reason, f"{_short(text)}: {_short(label)} is not a canonical A-label")


def canonical_hostname(value: str) -> str:
    """Lower-case, IDNA (UTS46) A-label host name without trailing dot; used for domains too.

    Plain-ASCII labels are checked against the LDH rule only (so DNS names such as
    ``r3---sn-abc.googlevideo.com``, which IDNA2008 would refuse, are accepted); labels with
    non-ASCII characters, and ``xn--`` labels, are validated by ``idna``.
    """
    text = _prepare(value)
    if _has_space_or_control(text):
        raise InvalidIndicator(
            "invalid_hostname", f"{_short(text)} contains whitespace or control characters"
        )
    if len(text) > 4 * HOSTNAME_MAX_CHARS:
        raise InvalidIndicator("invalid_hostname", f"{_short(text)}: far longer than a host name can be")
    return _hostname(text, "invalid_hostname")


# --------------------------------------------------------------------------------------------
# URLs

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ftps": 990}
_PORT_RE = re.compile(r"[0-9]{1,5}")
_PCT_RE = re.compile(r"%([0-9a-fA-F]{2})")
_AUTHORITY_END_RE = re.compile(r"[/?#]")


def _upper_escapes(text: str) -> str:
    return _PCT_RE.sub(lambda m: "%" + m.group(1).upper(), text)


def _url_host(host: str, url: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidIndicator("invalid_url", f"{_short(url)}: unterminated IPv6 literal")
        literal = host[1:-1]
        if "%" in literal:
            raise InvalidIndicator("invalid_host", f"{_short(url)}: IPv6 zone ids are not accepted")
        try:
            address6 = ipaddress.IPv6Address(literal)
        except ValueError:
            raise InvalidIndicator(
                "invalid_host", f"{_short(url)}: bad IPv6 literal {_short(host)}"
            ) from None
        canonical = _format_address(address6)
        _require_global_address(address6, canonical)
        return f"[{canonical}]"
    if not host:
        raise InvalidIndicator("invalid_url", f"{_short(url)} has no host")
    plain = host.removesuffix(".")
    try:
        address4 = ipaddress.IPv4Address(plain)
    except ValueError:
        pass
    else:
        canonical = _format_address(address4)
        _require_global_address(address4, canonical)
        return canonical
    try:
        return _hostname(host, "invalid_host")
    except InvalidIndicator as err:
        if err.reason == "not_a_hostname":  # e.g. an unbracketed IPv6 address after UTS46 mapping
            raise InvalidIndicator("invalid_host", f"{_short(url)}: {err.message}") from None
        raise


def canonical_url(value: str) -> str:
    """Canonical http(s)/ftp(s) URL.

    Scheme and host lower-cased, host as IDNA A-label (or canonical IP), default port dropped,
    empty path made ``/``, percent-escapes' hex digits upper-cased; everything else (userinfo,
    path, query, fragment) kept as received -- escapes are not decoded, nothing is re-encoded.
    """
    text = _prepare(value)
    _check_size(text, URL_MAX_BYTES)
    if _has_space_or_control(text):
        raise InvalidIndicator("invalid_url", f"{_short(text)} contains whitespace or control characters")
    match = _SCHEME_RE.match(text)
    if match is None:
        raise InvalidIndicator("invalid_url", f"{_short(text)} has no scheme")
    scheme = match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidIndicator("invalid_url", f"{_short(text)}: scheme {scheme!r} is not http(s) or ftp(s)")
    rest = text[match.end() :]
    if not rest.startswith("//"):
        raise InvalidIndicator("invalid_url", f"{_short(text)} has no //host")
    rest = rest[2:]
    end = _AUTHORITY_END_RE.search(rest)
    authority, tail = (rest, "") if end is None else (rest[: end.start()], rest[end.start() :])
    if "\\" in authority:
        raise InvalidIndicator("invalid_url", f"{_short(text)}: backslash in the authority")

    userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise InvalidIndicator("invalid_url", f"{_short(text)}: unterminated IPv6 literal")
        host, port_part = hostport[: close + 1], hostport[close + 1 :]
    else:
        colon = hostport.find(":")
        host, port_part = (hostport, "") if colon < 0 else (hostport[:colon], hostport[colon:])
    port = ""
    if port_part:
        digits = port_part[1:]
        if not port_part.startswith(":") or (digits and not _PORT_RE.fullmatch(digits)):
            raise InvalidIndicator("invalid_url", f"{_short(text)}: invalid port {_short(port_part)}")
        if digits:
            number = int(digits)
            if not 0 < number <= 65535:
                raise InvalidIndicator("invalid_url", f"{_short(text)}: port {number} out of range")
            if number != _DEFAULT_PORTS[scheme]:
                port = f":{number}"

    canonical_host = _url_host(host, text)

    path_end = len(tail)
    for delimiter in "?#":
        index = tail.find(delimiter)
        if 0 <= index < path_end:
            path_end = index
    path, query_fragment = tail[:path_end], tail[path_end:]
    if not path:
        path = "/"

    canonical = f"{scheme}://{userinfo}{at}{canonical_host}{port}{_upper_escapes(path + query_fragment)}"
    _check_size(canonical, URL_MAX_BYTES)
    return canonical


# --------------------------------------------------------------------------------------------
# Hashes, CVE, e-mail, Bitcoin, free text

_HASH_LENGTHS: dict[IndicatorType, tuple[int, ...]] = {
    IndicatorType.FILEHASH_MD5: (32,),
    IndicatorType.FILEHASH_SHA1: (40,),
    IndicatorType.FILEHASH_SHA256: (64,),
    IndicatorType.FILEHASH_PEHASH: (40,),
    IndicatorType.FILEHASH_IMPHASH: (32,),
    IndicatorType.JA3: (32,),
    IndicatorType.SSL_CERT_FINGERPRINT: (40, 64),
}
_HEX_RE = re.compile(r"[0-9a-f]+")


def canonical_hash(value: str, indicator_type: IndicatorType) -> str:
    """Lower-case hex digest of the length the type demands (SSLCertFingerprint: colons removed)."""
    kind = _coerce_type(indicator_type)
    lengths = _HASH_LENGTHS.get(kind)
    if lengths is None:
        raise InvalidIndicator("unknown_type", f"{kind.value} is not a hash type")
    text = _prepare(value)
    if kind is IndicatorType.SSL_CERT_FINGERPRINT:
        text = text.replace(":", "")
    digest = text.lower()
    if len(digest) not in lengths or not _HEX_RE.fullmatch(digest):
        wanted = " or ".join(str(n) for n in lengths)
        raise InvalidIndicator("invalid_hash", f"{_short(text)} is not {wanted} hex digits ({kind.value})")
    return digest


_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")


def canonical_cve(value: str) -> str:
    """Upper-case ``CVE-YYYY-NNNN...``."""
    cve = _prepare(value).upper()
    if not _CVE_RE.fullmatch(cve):
        raise InvalidIndicator("invalid_cve", f"{_short(cve)} is not CVE-YYYY-NNNN")
    return cve


def canonical_email(value: str) -> str:
    """``local@domain``: local part kept as received, domain canonicalised as a host name."""
    text = _prepare(value)
    _check_size(text, TEXT_MAX_BYTES)
    if _has_space_or_control(text):
        raise InvalidIndicator("invalid_email", f"{_short(text)} contains whitespace or control characters")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidIndicator("invalid_email", f"{_short(text)} is not local@domain")
    try:
        canonical_domain = _hostname(domain, "invalid_email")
    except InvalidIndicator as err:
        raise InvalidIndicator("invalid_email", f"{_short(text)}: domain: {err.message}") from None
    return f"{local}@{canonical_domain}"


_BASE58_RE = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{24,33}")
_BECH32_RE = re.compile(r"bc1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{11,87}")


def _canonical_bitcoin(value: str) -> str:
    """Legacy base58 (``1...``/``3...``, case kept) or bech32 (``bc1...``, lower-cased) address.

    Only the shape is checked (alphabet, length); checksums are not verified.
    """
    text = _prepare(value)
    if _BASE58_RE.fullmatch(text):
        return text
    lowered = text.lower()
    if lowered.startswith("bc1"):
        if text not in (lowered, text.upper()):
            raise InvalidIndicator("invalid_bitcoin_address", f"{_short(text)}: bech32 in mixed case")
        if _BECH32_RE.fullmatch(lowered):
            return lowered
    raise InvalidIndicator("invalid_bitcoin_address", f"{_short(text)} is not a base58 or bech32 address")


def _text_canonicaliser(limit: int) -> Callable[[str], str]:
    def canonical_text(value: str) -> str:
        text = _prepare(value)
        _check_size(text, limit)
        return text

    return canonical_text


def _ip_of_version(version: int, indicator_type: IndicatorType) -> Callable[[str], str]:
    def canonical(value: str) -> str:
        text = _prepare(value)
        address = _parse_address(text)
        if address.version != version:
            raise InvalidIndicator(
                "ip_version_mismatch",
                f"{_short(text)} is an IPv{address.version} address, not {indicator_type.value}",
            )
        return canonical_ip(text)

    return canonical


def _hash_of(indicator_type: IndicatorType) -> Callable[[str], str]:
    return lambda value: canonical_hash(value, indicator_type)


_CANONICALISERS: dict[IndicatorType, Callable[[str], str]] = {
    IndicatorType.IPV4: _ip_of_version(4, IndicatorType.IPV4),
    IndicatorType.IPV6: _ip_of_version(6, IndicatorType.IPV6),
    IndicatorType.CIDR: canonical_cidr,
    IndicatorType.DOMAIN: canonical_hostname,
    IndicatorType.HOSTNAME: canonical_hostname,
    IndicatorType.EMAIL: canonical_email,
    IndicatorType.URL: canonical_url,
    IndicatorType.URI: _text_canonicaliser(TEXT_MAX_BYTES),
    IndicatorType.FILEPATH: _text_canonicaliser(TEXT_MAX_BYTES),
    IndicatorType.MUTEX: _text_canonicaliser(TEXT_MAX_BYTES),
    IndicatorType.YARA: _text_canonicaliser(LONG_TEXT_MAX_BYTES),
    IndicatorType.OSQUERY: _text_canonicaliser(LONG_TEXT_MAX_BYTES),
    IndicatorType.CVE: canonical_cve,
    IndicatorType.BITCOIN_ADDRESS: _canonical_bitcoin,
    **{kind: _hash_of(kind) for kind in _HASH_LENGTHS},
}


def canonicalize(indicator_type: IndicatorType | str, value: object) -> str:
    """Canonical form of ``value`` as an indicator of ``indicator_type``; raises InvalidIndicator."""
    kind = _coerce_type(indicator_type)
    text = _prepare(value)
    return _CANONICALISERS[kind](text)


# --------------------------------------------------------------------------------------------
# Document identity


def _digest(canonical_value: str) -> str:
    return hashlib.sha256(canonical_value.encode("utf-8")).hexdigest()


def indicator_id(source: str, indicator_type: IndicatorType | str, canonical_value: str) -> str:
    """Deterministic Cosmos DB id ``source:type:sha256(value)``; never contains the raw value."""
    if not isinstance(source, str) or not _SOURCE_RE.fullmatch(source):
        raise ValueError(f"source must match [a-z0-9_.-]{{1,64}}, got {source!r}")
    kind = _coerce_type(indicator_type)
    return f"{source}:{kind.value}:{_digest(canonical_value)}"


def partition_key(indicator_type: IndicatorType | str, canonical_value: str) -> str:
    """Partition key ``type_xx``, ``xx`` being the first two hex digits of sha256(value)."""
    kind = _coerce_type(indicator_type)
    return f"{kind.value}_{_digest(canonical_value)[:2]}"
