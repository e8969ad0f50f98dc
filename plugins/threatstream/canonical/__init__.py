"""Canonical forms of indicator values, and the document id / partition key derived from them.

Every source maps its raw values through :func:`canonical_indicator` before anything is stored,
so the same indicator reported by URLhaus, OTX and AbuseIPDB (or twice by one of them, spelt
differently, or defanged) ends up with the same type, the same canonical value, the same
:func:`indicator_id` and the same :func:`partition_key`.

Canonicalisation may change the type: an absolute http(s)/ftp(s) ``URI`` is a ``URL``, and an
IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is the ``IPv4`` address it carries.

Pure functions only: no I/O, no Airflow. Every canonicaliser is idempotent on the
(type, value) pair it returns; a value that cannot be made canonical raises
:class:`InvalidIndicator` with a short machine-friendly ``reason`` (all listed in
:data:`REASONS` and explained in ``docs/canonical.md``).
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeAlias

import idna

from threatstream.canonical.vocabulary import IndicatorType

__all__ = [
    "REASONS",
    "CanonicalIndicator",
    "InvalidIndicator",
    "canonical_cidr",
    "canonical_cve",
    "canonical_email",
    "canonical_hash",
    "canonical_hostname",
    "canonical_indicator",
    "canonical_ip",
    "canonical_url",
    "canonicalize",
    "check_source",
    "indicator_id",
    "indicator_keys",
    "ip_indicator_type",
    "partition_key",
    "refang",
]

#: Every ``InvalidIndicator.reason`` this module can produce.
REASONS: frozenset[str] = frozenset(
    {
        "not_a_string",
        "empty",
        "control_character",
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


class CanonicalIndicator(NamedTuple):
    """The canonical (type, value) of an indicator, and whether its input was defanged."""

    indicator_type: IndicatorType
    value: str
    refanged: bool = False


# --------------------------------------------------------------------------------------------
# Limits (measured in UTF-8 bytes of the stripped value)

URL_MAX_BYTES = 8192
TEXT_MAX_BYTES = 2048
LONG_TEXT_MAX_BYTES = 32 * 1024
HOSTNAME_MAX_CHARS = 253
LABEL_MAX_CHARS = 63

_SOURCE_RE = re.compile(r"[a-z0-9_.-]{1,64}")
# C0 and C1 control characters except TAB, LF and CR (which are whitespace), and lone
# surrogates (not Unicode scalar values, so not encodable as UTF-8).
_BAD_CHARACTER_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_WHITESPACE_RE = re.compile(r"\s")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def _short(value: str, limit: int = 80) -> str:
    """A bounded repr of ``value`` for error messages."""
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + "..."


def _prepare(value: object) -> str:
    """Check the value is a non-blank string without control characters; return it stripped."""
    if not isinstance(value, str):
        if value is None:
            raise InvalidIndicator("empty", "value is missing (None)")
        raise InvalidIndicator("not_a_string", f"expected a string, got {type(value).__name__}")
    bad = _BAD_CHARACTER_RE.search(value)
    if bad is not None:
        if _SURROGATE_RE.search(value, bad.start()):
            raise InvalidIndicator("not_a_string", "value contains unpaired surrogates (not valid Unicode)")
        stripped = value.strip()
        if not stripped:
            raise InvalidIndicator("empty", "value is empty or whitespace only")
        raise InvalidIndicator(
            "control_character",
            f"{_short(stripped)} contains the control character U+{ord(bad.group()):04X}",
        )
    stripped = value.strip()
    if not stripped:
        raise InvalidIndicator("empty", "value is empty or whitespace only")
    return stripped


def _check_size(value: str, limit: int) -> None:
    # Cheap bound first: a str of n code points has between n and 4n UTF-8 bytes.
    if len(value) * 4 <= limit:
        return
    size = len(value.encode("utf-8"))
    if size > limit:
        raise InvalidIndicator("too_long", f"value is {size} bytes long, the limit is {limit}")


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
# Refanging: threat reports "defang" indicators so that nobody clicks them by accident.

_DEFANG_HINT_RE = re.compile(r"[\[({]|^(?:hxxps?|fxps?)\b", re.IGNORECASE)
_DEFANGED_SCHEME_RE = re.compile(r"^(hxxp|fxp)(s?)(?=:|\[:)", re.IGNORECASE)
_BRACKETED_COLON_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)(?:\[:\]//|\[://\])")
_SQUARE_BRACKETED_RE = re.compile(r"\[(?:\.|dot|:|://|@|at)\]", re.IGNORECASE)
_ANY_BRACKETED_RE = re.compile(r"[\[({](?:\.|dot|:|://|@|at)[\])}]", re.IGNORECASE)
_REFANGED = {".": ".", "dot": ".", ":": ":", "://": "://", "@": "@", "at": "@"}
_REFANGED_SCHEMES = {"hxxp": "http", "fxp": "ftp"}


def _unbracket(match: re.Match[str]) -> str:
    return _REFANGED[match.group()[1:-1].lower()]


def _unbracket_all(pattern: re.Pattern[str], text: str) -> str:
    """Replace bracketed forms until none is left (``[[.]]`` is ``.``), so refanging is idempotent."""
    while True:
        refanged = pattern.sub(_unbracket, text)
        if refanged == text:
            return text
        text = refanged  # strictly shorter: the loop ends


def _refang_host_text(text: str) -> str:
    """Refang a host name, IP address, network or e-mail address: every bracket style."""
    if _DEFANG_HINT_RE.search(text) is None:
        return text
    return _unbracket_all(_ANY_BRACKETED_RE, text)


def _refang_url_text(text: str) -> str:
    """Refang a URL: the scheme, every bracket style in the authority, ``[...]`` elsewhere.

    Round brackets and braces are legal in a path or query (RFC 3986 sub-delims), so after
    the authority only square brackets, which RFC 3986 allows nowhere but around an IPv6
    literal, are refanged.
    """
    if _DEFANG_HINT_RE.search(text) is None:
        return text
    text = _DEFANGED_SCHEME_RE.sub(
        lambda m: _REFANGED_SCHEMES[m.group(1).lower()] + m.group(2).lower(), text, count=1
    )
    text = _BRACKETED_COLON_RE.sub(r"\1://", text, count=1)
    marker = text.find("://")
    if marker < 0:
        return _unbracket_all(_SQUARE_BRACKETED_RE, text)
    start = marker + 3
    end = _AUTHORITY_END_RE.search(text, start)
    stop = len(text) if end is None else end.start()
    authority = _unbracket_all(_ANY_BRACKETED_RE, text[start:stop])
    return text[:start] + authority + _unbracket_all(_SQUARE_BRACKETED_RE, text[stop:])


def _refang_uri_text(text: str) -> str:
    """A URI is refanged only when it is (once its scheme is refanged) an absolute web URL."""
    if _DEFANG_HINT_RE.search(text) is None:
        return text
    refanged = _refang_url_text(text)
    return refanged if _WEB_URL_RE.match(refanged) else text


_REFANGERS: dict[IndicatorType, Callable[[str], str]] = {
    IndicatorType.IPV4: _refang_host_text,
    IndicatorType.IPV6: _refang_host_text,
    IndicatorType.CIDR: _refang_host_text,
    IndicatorType.DOMAIN: _refang_host_text,
    IndicatorType.HOSTNAME: _refang_host_text,
    IndicatorType.EMAIL: _refang_host_text,
    IndicatorType.URL: _refang_url_text,
    IndicatorType.URI: _refang_uri_text,
}


def refang(indicator_type: IndicatorType | str, value: str) -> str:
    """The value with defanging undone (``hxxp://``, ``[.]``, ``(.)``, ``[:]//``, ``[at]``...).

    Only network indicators are refanged (addresses, networks, host names, e-mail addresses,
    URLs and absolute URIs); hashes and free text are returned as received.
    """
    refanger = _REFANGERS.get(_coerce_type(indicator_type))
    return value if refanger is None else refanger(value)


# --------------------------------------------------------------------------------------------
# IP addresses and networks

_IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Special-purpose ranges that are not globally reachable (RFC 6890 registries), with the kind
# named in error messages. The first listed range a value falls in (or, for a network,
# overlaps) is the one reported.
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
_V6_OUTSIDE_GLOBAL_UNICAST = "reserved (outside 2000::/3)"
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class _RangeTable:
    """The kind of special-purpose space an address is in, by one binary search.

    The listed ranges overlap; they are flattened into disjoint intervals, each labelled with
    the first listed range containing it (None: globally reachable).
    """

    def __init__(self, ranges: Iterable[tuple[int, int, str]], width: int) -> None:
        listed = list(ranges)
        end = 1 << (8 * width)  # a range ending at the last address starts nothing after it
        bounds = sorted({0, *(low for low, _, _ in listed), *(high + 1 for _, high, _ in listed)} - {end})
        #: Where each interval starts, packed as ``inet_pton`` packs an address (``width``
        #: bytes, big-endian: they sort as the numbers do), and its kind.
        self.starts: list[bytes] = []
        self.kinds: list[str | None] = []
        for start in bounds:
            kind = next((k for low, high, k in listed if low <= start <= high), None)
            if not self.kinds or self.kinds[-1] != kind:
                self.starts.append(start.to_bytes(width, "big"))
                self.kinds.append(kind)

    def kind(self, packed: bytes) -> str | None:
        """The kind of the address ``packed`` (``width`` bytes, as ``inet_pton`` packs it)."""
        return self.kinds[bisect.bisect_right(self.starts, packed) - 1]


def _ranges(networks: Iterable[tuple[_IPNetwork, str]]) -> list[tuple[int, int, str]]:
    return [(int(n.network_address), int(n.broadcast_address), kind) for n, kind in networks]


_V4_TABLE = _RangeTable(_ranges(_V4_NON_GLOBAL), 4)
_V6_TABLE = _RangeTable(
    [
        *_ranges(_V6_NON_GLOBAL),
        # everything outside global unicast 2000::/3 (RFC 4291 section 2.4)
        *_ranges(
            (net, _V6_OUTSIDE_GLOBAL_UNICAST)
            for net in ipaddress.IPv6Network("::/0").address_exclude(_V6_GLOBAL_UNICAST)
        ),
    ],
    16,
)


def _address_flags_kind(address: _IPAddress) -> str | None:
    """Classification with ``ipaddress``'s own flags (explicit multicast check first)."""
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


def _non_global_network_kind(network: _IPNetwork) -> str | None:
    """The kind of non-global space ``network`` overlaps, or None if all of it is global."""
    if isinstance(network, ipaddress.IPv4Network):
        for net4, kind in _V4_NON_GLOBAL:
            if network.overlaps(net4):
                return f"{kind} {net4}"
    else:
        for net6, kind in _V6_NON_GLOBAL:
            if network.overlaps(net6):
                return f"{kind} {net6}"
        if not network.subnet_of(_V6_GLOBAL_UNICAST):
            return _V6_OUTSIDE_GLOBAL_UNICAST
    for endpoint in (network.network_address, network.broadcast_address):
        endpoint_kind = _address_flags_kind(endpoint)
        if endpoint_kind is not None:
            return endpoint_kind
    return None


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # decimal, no leading zero
_DOTTED_QUAD_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


class _Address(NamedTuple):
    """A parsed address: IPv4-mapped IPv6 addresses are the IPv4 address they carry."""

    version: int
    packed: bytes
    text: str  # canonical text: dotted quad, or RFC 5952 (compressed, lower-case)
    mapped: bool = False  # written as IPv4-mapped IPv6

    @property
    def indicator_type(self) -> IndicatorType:
        return IndicatorType.IPV4 if self.version == 4 else IndicatorType.IPV6


def _parse_address(value: str, reason: str = "invalid_ip") -> _Address:
    if _DOTTED_QUAD_RE.fullmatch(value):
        return _Address(4, socket.inet_aton(value), value)
    if "%" in value:
        raise InvalidIndicator(reason, f"{_short(value)}: IPv6 zone ids are not accepted")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidIndicator(reason, f"{_short(value)} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv4Address):
        return _Address(4, address.packed, str(address))
    mapped = address.ipv4_mapped
    if mapped is not None:
        return _Address(4, mapped.packed, str(mapped), mapped=True)
    return _Address(6, address.packed, address.compressed)


def _require_global(address: _Address) -> None:
    kind = (_V4_TABLE if address.version == 4 else _V6_TABLE).kind(address.packed)
    if kind is not None:
        raise _non_global(address.text, kind)


def _global_dotted_quad(text: str) -> CanonicalIndicator:
    """An IPv4 address in canonical dotted-quad form, if global: one range lookup."""
    kind = _V4_TABLE.kind(socket.inet_aton(text))
    if kind is not None:
        raise _non_global(text, kind)
    return CanonicalIndicator(IndicatorType.IPV4, text)


def _non_global(text: str, kind: str) -> InvalidIndicator:
    return InvalidIndicator("non_global_ip", f"{text} is not globally routable: {kind} address")


def _ip(text: str) -> CanonicalIndicator:
    address = _parse_address(text)
    _require_global(address)
    return CanonicalIndicator(address.indicator_type, address.text)


def canonical_ip(value: str) -> str:
    """Canonical IPv4 (dotted quad) or IPv6 (compressed, lower-case) text of a global address.

    An IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is the IPv4 address it carries.
    """
    return _ip(_refang_host_text(_prepare(value))).value


def ip_indicator_type(value: str) -> IndicatorType:
    """IPv4 or IPv6, by the version of the address itself (whatever a source claims).

    Only parses the address; whether it is global is :func:`canonical_ip`'s business.
    An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is IPv4.
    """
    address = _parse_address(_refang_host_text(_prepare(value)))
    return address.indicator_type


def _ip_of_version(indicator_type: IndicatorType) -> Callable[[str], CanonicalIndicator]:
    def canonical(text: str) -> CanonicalIndicator:
        if indicator_type is IndicatorType.IPV4 and (found := _dotted_quad_shortcut(text)) is not None:
            return found
        address = _parse_address(text)
        if address.version == 6 and indicator_type is IndicatorType.IPV4:
            raise InvalidIndicator("ip_version_mismatch", f"{_short(text)} is an IPv6 address, not IPv4")
        if address.version == 4 and indicator_type is IndicatorType.IPV6 and not address.mapped:
            raise InvalidIndicator("ip_version_mismatch", f"{_short(text)} is an IPv4 address, not IPv6")
        _require_global(address)
        return CanonicalIndicator(address.indicator_type, address.text)

    return canonical


def _cidr(text: str) -> CanonicalIndicator:
    if "/" not in text:
        raise InvalidIndicator("invalid_cidr", f"{_short(text)} has no /prefix")
    if "%" in text:
        raise InvalidIndicator("invalid_cidr", f"{_short(text)}: IPv6 zone ids are not accepted")
    try:
        network: _IPNetwork = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidIndicator("invalid_cidr", f"{_short(text)} is not a CIDR network") from None
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_V4_MAPPED):
        # An IPv4-mapped network is the IPv4 network it carries.
        network = ipaddress.IPv4Network(
            (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96), strict=True
        )
    canonical = f"{network.network_address.compressed}/{network.prefixlen}"
    kind = _non_global_network_kind(network)
    if kind is not None:
        raise InvalidIndicator("non_global_ip", f"{canonical} is not globally routable: overlaps {kind}")
    return CanonicalIndicator(IndicatorType.CIDR, canonical)


def canonical_cidr(value: str) -> str:
    """Canonical ``network/prefix`` of a global network; host bits are cleared."""
    return _cidr(_refang_host_text(_prepare(value))).value


# --------------------------------------------------------------------------------------------
# Host names

# RFC 2181 section 11: any octet is legal in a DNS label; host names in practice (and RFC 3986
# reg-names) use letters, digits, hyphens and underscores (``_dmarc``, ``sub_sub2``).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_LABEL_RE = re.compile(_LABEL)
# E-mail domains follow RFC 5321 (letters, digits, inner hyphens: no underscore).
_LDH_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_FAST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_FAST_HOST_RE = re.compile(rf"(?:{_FAST_LABEL}\.)+{_FAST_LABEL}")
_ANY_CASE_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_ACE_PREFIX = "xn--"


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _plain_host_name(host: str) -> bool:
    """Whether ``host``, made of plain ASCII labels (:data:`_FAST_LABEL`), is a canonical host
    name as it stands: not too long, without A-labels to check, with a non-numeric TLD."""
    return (
        len(host) <= HOSTNAME_MAX_CHARS and _ACE_PREFIX not in host and not host.rpartition(".")[2].isdigit()
    )


def _hostname(text: str, reason: str, *, underscore: bool = True) -> str:
    """Canonicalise a stripped host name, raising ``reason`` for a malformed one."""
    if text.isascii():
        host = text.lower().removesuffix(".")
        if (underscore or "_" not in host) and _FAST_HOST_RE.fullmatch(host) and _plain_host_name(host):
            return host
    else:
        try:
            host = idna.uts46_remap(text, std3_rules=False).removesuffix(".")
        except (idna.IDNAError, UnicodeError) as err:
            raise InvalidIndicator(reason, f"{_short(text)}: {err}") from None
    if _is_ip_address(host):
        raise InvalidIndicator("not_a_hostname", f"{_short(text)} is an IP address, not a host name")
    label_re = _LABEL_RE if underscore else _LDH_LABEL_RE
    allowed = (
        "letters, digits, underscores, inner hyphens" if underscore else "letters, digits, inner hyphens"
    )
    out: list[str] = []
    for raw_label in host.split("."):
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
        if not label_re.fullmatch(label):
            raise InvalidIndicator(reason, f"{_short(text)}: label {_short(label)} is not {allowed}")
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


def _host_name(text: str) -> str:
    if _WHITESPACE_RE.search(text):
        raise InvalidIndicator("invalid_hostname", f"{_short(text)} contains whitespace")
    if len(text) > 4 * HOSTNAME_MAX_CHARS:
        raise InvalidIndicator("invalid_hostname", f"{_short(text)}: far longer than a host name can be")
    return _hostname(text, "invalid_hostname")


def canonical_hostname(value: str) -> str:
    """Lower-case, IDNA (UTS46) A-label host name without trailing dot; used for domains too.

    Plain-ASCII labels are checked for letters, digits, underscores and inner hyphens only (so
    DNS names such as ``r3---sn-abc.googlevideo.com``, which IDNA2008 would refuse, and
    ``_dmarc.example.com`` are accepted); labels with non-ASCII characters, and ``xn--``
    labels, are validated by ``idna``.
    """
    return _host_name(_refang_host_text(_prepare(value)))


# --------------------------------------------------------------------------------------------
# URLs

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_WEB_URL_RE = re.compile(r"(?:https?|ftps?):", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ftps": 990}
_PORT_RE = re.compile(r"[0-9]{1,5}")
_PCT_RE = re.compile(r"%([0-9a-fA-F]{2})")
_AUTHORITY_END_RE = re.compile(r"[/?#]")


def _upper_escapes(text: str) -> str:
    if "%" not in text:
        return text
    return _PCT_RE.sub(lambda m: "%" + m.group(1).upper(), text)


def _url_host(host: str, url: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidIndicator("invalid_url", f"{_short(url)}: unterminated IPv6 literal")
        literal = host[1:-1]
        if "%" in literal:
            raise InvalidIndicator("invalid_host", f"{_short(url)}: IPv6 zone ids are not accepted")
        if ":" not in literal:
            raise InvalidIndicator("invalid_host", f"{_short(url)}: bad IPv6 literal {_short(host)}")
        address6 = _parse_address(literal, "invalid_host")
        _require_global(address6)
        # An IPv4-mapped literal is the IPv4 host it carries.
        return address6.text if address6.version == 4 else f"[{address6.text}]"
    if not host:
        raise InvalidIndicator("invalid_url", f"{_short(url)} has no host")
    plain = host.removesuffix(".")
    if _DOTTED_QUAD_RE.fullmatch(plain):
        address4 = _parse_address(plain)
        _require_global(address4)
        return address4.text
    try:
        return _hostname(host, "invalid_host")
    except InvalidIndicator as err:
        if err.reason == "not_a_hostname":  # e.g. an unbracketed IPv6 address after UTS46 mapping
            raise InvalidIndicator("invalid_host", f"{_short(url)}: {err.message}") from None
        raise


# A URL whose canonical form takes no parsing: plain ASCII host name (or dotted quad) in any
# case, no user info, a port without leading zeros, and a path, query and fragment without
# whitespace, backslashes, square brackets (defanging) or control characters. Such a text needs
# no stripping, checking for bad characters or refanging; its canonical form only lower-cases
# scheme and host, drops a default port, upper-cases percent-escapes and adds a missing "/".
_SIMPLE_URL_RE = re.compile(
    rf"([Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp][Ss]?)://({_ANY_CASE_LABEL}(?:\.{_ANY_CASE_LABEL})+)"
    r"(?::([1-9][0-9]{0,4}))?([/?#][^\s\\\[\]\x00-\x1f\x7f-\x9f\ud800-\udfff]*)?"
)


def _url(text: str) -> CanonicalIndicator:
    """The canonical URL: at once for a simple URL, else parsed."""
    simple = _SIMPLE_URL_RE.fullmatch(text)
    if simple is None:
        return _parsed_url(text)
    return _simple_url(text, simple)


def _simple_url(text: str, simple: re.Match[str]) -> CanonicalIndicator:
    """The canonical form of a URL that matched :data:`_SIMPLE_URL_RE` (``simple``)."""
    _check_size(text, URL_MAX_BYTES)
    scheme, host, port, tail = simple.groups()
    unchanged = text[: simple.end(2)].islower()  # scheme and host (ASCII) already lower-case
    if not unchanged:
        scheme, host = scheme.lower(), host.lower()
    if port is not None:
        number = int(port)
        if number > 65535:
            return _parsed_url(text)
        if number == _DEFAULT_PORTS[scheme]:
            port, unchanged = None, False
    if host.rpartition(".")[2].isdigit():  # only a global dotted quad can end in digits
        if not _DOTTED_QUAD_RE.fullmatch(host):
            return _parsed_url(text)
        _global_dotted_quad(host)
    elif not _plain_host_name(host):
        return _parsed_url(text)
    if not tail or tail[0] != "/":  # empty path (RFC 3986 section 6.2.3)
        tail, unchanged = f"/{tail or ''}", False
    if "%" in tail and (escaped := _upper_escapes(tail)) != tail:
        tail, unchanged = escaped, False
    if unchanged:
        return CanonicalIndicator(IndicatorType.URL, text)
    canonical = f"{scheme}://{host}{'' if port is None else ':' + port}{tail}"
    _check_size(canonical, URL_MAX_BYTES)
    return CanonicalIndicator(IndicatorType.URL, canonical)


def _parsed_url(text: str) -> CanonicalIndicator:
    _check_size(text, URL_MAX_BYTES)
    if _WHITESPACE_RE.search(text):
        raise InvalidIndicator("invalid_url", f"{_short(text)} contains whitespace")
    match = _SCHEME_RE.match(text)
    if match is None:
        raise InvalidIndicator("invalid_url", f"{_short(text)} has no scheme")
    scheme = match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidIndicator("invalid_url", f"{_short(text)}: scheme {scheme!r} is not http(s) or ftp(s)")
    start = match.end()
    if not text.startswith("//", start):
        raise InvalidIndicator("invalid_url", f"{_short(text)} has no //host")
    start += 2
    end = _AUTHORITY_END_RE.search(text, start)
    authority, tail = (text[start:], "") if end is None else (text[start : end.start()], text[end.start() :])
    if "\\" in authority:
        raise InvalidIndicator("invalid_url", f"{_short(text)}: backslash in the authority")

    userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise InvalidIndicator("invalid_url", f"{_short(text)}: unterminated IPv6 literal")
        host, port_part = hostport[: close + 1], hostport[close + 1 :]
    else:
        host, colon, digits = hostport.partition(":")
        port_part = colon + digits
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

    if not tail or tail[0] != "/":  # empty path (RFC 3986 section 6.2.3)
        tail = "/" + tail
    canonical = f"{scheme}://{userinfo}{at}{canonical_host}{port}{_upper_escapes(tail)}"
    _check_size(canonical, URL_MAX_BYTES)
    return CanonicalIndicator(IndicatorType.URL, canonical)


def canonical_url(value: str) -> str:
    """Canonical http(s)/ftp(s) URL.

    Scheme and host lower-cased, host as IDNA A-label (or canonical IP), default port dropped,
    empty path made ``/``, percent-escapes' hex digits upper-cased; everything else (userinfo,
    path, query, fragment) kept as received -- escapes are not decoded, nothing is re-encoded.
    """
    return _url(_refang_url_text(_prepare(value))).value


def _uri(text: str) -> CanonicalIndicator:
    """An absolute http(s)/ftp(s) URI is a URL; any other URI (a path, ``mailto:``...) is text."""
    if _WEB_URL_RE.match(text):
        return _url(text)
    _check_size(text, TEXT_MAX_BYTES)
    return CanonicalIndicator(IndicatorType.URI, text)


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


def _hash(text: str, kind: IndicatorType) -> str:
    lengths = _HASH_LENGTHS[kind]
    if kind is IndicatorType.SSL_CERT_FINGERPRINT:
        text = text.replace(":", "")
    digest = text.lower()
    if len(digest) not in lengths or not _HEX_RE.fullmatch(digest):
        wanted = " or ".join(str(n) for n in lengths)
        raise InvalidIndicator("invalid_hash", f"{_short(text)} is not {wanted} hex digits ({kind.value})")
    return digest


def canonical_hash(value: str, indicator_type: IndicatorType) -> str:
    """Lower-case hex digest of the length the type demands (SSLCertFingerprint: colons removed)."""
    kind = _coerce_type(indicator_type)
    if kind not in _HASH_LENGTHS:
        raise InvalidIndicator("unknown_type", f"{kind.value} is not a hash type")
    return _hash(_prepare(value), kind)


_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")


def _cve(text: str) -> str:
    cve = text.upper()
    if not _CVE_RE.fullmatch(cve):
        raise InvalidIndicator("invalid_cve", f"{_short(cve)} is not CVE-YYYY-NNNN")
    return cve


def canonical_cve(value: str) -> str:
    """Upper-case ``CVE-YYYY-NNNN...``."""
    return _cve(_prepare(value))


def _email(text: str) -> str:
    _check_size(text, TEXT_MAX_BYTES)
    if _WHITESPACE_RE.search(text):
        raise InvalidIndicator("invalid_email", f"{_short(text)} contains whitespace")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidIndicator("invalid_email", f"{_short(text)} is not local@domain")
    try:
        canonical_domain = _hostname(domain, "invalid_email", underscore=False)
    except InvalidIndicator as err:
        raise InvalidIndicator("invalid_email", f"{_short(text)}: domain: {err.message}") from None
    return f"{local}@{canonical_domain}"


def canonical_email(value: str) -> str:
    """``local@domain``: local part kept as received, domain canonicalised as a host name."""
    return _email(_refang_host_text(_prepare(value)))


_BASE58_RE = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{24,33}")
_BECH32_RE = re.compile(r"bc1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{11,87}")


def _bitcoin(text: str) -> str:
    """Legacy base58 (``1...``/``3...``, case kept) or bech32 (``bc1...``, lower-cased) address.

    Only the shape is checked (alphabet, length); checksums are not verified.
    """
    if _BASE58_RE.fullmatch(text):
        return text
    lowered = text.lower()
    if lowered.startswith("bc1"):
        if text not in (lowered, text.upper()):
            raise InvalidIndicator("invalid_bitcoin_address", f"{_short(text)}: bech32 in mixed case")
        if _BECH32_RE.fullmatch(lowered):
            return lowered
    raise InvalidIndicator("invalid_bitcoin_address", f"{_short(text)} is not a base58 or bech32 address")


_Canonicaliser: TypeAlias = Callable[[str], CanonicalIndicator]


def _same_type(kind: IndicatorType, canonical: Callable[[str], str]) -> _Canonicaliser:
    return lambda text: CanonicalIndicator(kind, canonical(text))


def _text(kind: IndicatorType, limit: int) -> _Canonicaliser:
    def canonical_text(text: str) -> CanonicalIndicator:
        _check_size(text, limit)
        return CanonicalIndicator(kind, text)

    return canonical_text


def _hash_of(kind: IndicatorType) -> _Canonicaliser:
    return lambda text: CanonicalIndicator(kind, _hash(text, kind))


# Each takes the prepared (stripped, control-free) and refanged text.
_CANONICALISERS: dict[IndicatorType, _Canonicaliser] = {
    IndicatorType.IPV4: _ip_of_version(IndicatorType.IPV4),
    IndicatorType.IPV6: _ip_of_version(IndicatorType.IPV6),
    IndicatorType.CIDR: _cidr,
    IndicatorType.DOMAIN: _same_type(IndicatorType.DOMAIN, _host_name),
    IndicatorType.HOSTNAME: _same_type(IndicatorType.HOSTNAME, _host_name),
    IndicatorType.EMAIL: _same_type(IndicatorType.EMAIL, _email),
    IndicatorType.URL: _url,
    IndicatorType.URI: _uri,
    IndicatorType.FILEPATH: _text(IndicatorType.FILEPATH, TEXT_MAX_BYTES),
    IndicatorType.MUTEX: _text(IndicatorType.MUTEX, TEXT_MAX_BYTES),
    IndicatorType.YARA: _text(IndicatorType.YARA, LONG_TEXT_MAX_BYTES),
    IndicatorType.OSQUERY: _text(IndicatorType.OSQUERY, LONG_TEXT_MAX_BYTES),
    IndicatorType.CVE: _same_type(IndicatorType.CVE, _cve),
    IndicatorType.BITCOIN_ADDRESS: _same_type(IndicatorType.BITCOIN_ADDRESS, _bitcoin),
    **{kind: _hash_of(kind) for kind in _HASH_LENGTHS},
}


def canonical_indicator(indicator_type: IndicatorType | str, value: object) -> CanonicalIndicator:
    """Canonical (type, value) of ``value`` reported as ``indicator_type``; raises InvalidIndicator.

    The value is refanged first (``refanged`` says whether that changed it). The returned
    type differs from the reported one for an absolute web ``URI`` (a ``URL``) and an
    IPv4-mapped IPv6 address or network (``IPv4`` / an IPv4 ``CIDR``). Idempotent:
    ``canonical_indicator(*canonical_indicator(t, v)[:2])[:2] == canonical_indicator(t, v)[:2]``.
    """
    if isinstance(value, str):
        shortcut = _SHORTCUTS.get(indicator_type)
        if shortcut is not None and (found := shortcut(value)) is not None:
            return found
    return _canonical_in_full(indicator_type, value)


def _dotted_quad_shortcut(text: str) -> CanonicalIndicator | None:
    return _global_dotted_quad(text) if _DOTTED_QUAD_RE.fullmatch(text) else None


def _ipv6_shortcut(text: str) -> CanonicalIndicator | None:
    """A global IPv6 address already in RFC 5952 form (``inet_ntop`` writes it so, except for
    the IPv4-embedded forms with a dot, which the full path takes): one parse, one lookup."""
    if not _IPV6_TEXT_RE.fullmatch(text):
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return None
    if socket.inet_ntop(socket.AF_INET6, packed) != text:
        return None
    kind = _V6_TABLE.kind(packed)
    if kind is not None:
        raise _non_global(text, kind)
    return CanonicalIndicator(IndicatorType.IPV6, text)


_IPV6_TEXT_RE = re.compile(r"[0-9a-f:]{2,39}")


def _url_shortcut(text: str) -> CanonicalIndicator | None:
    simple = _SIMPLE_URL_RE.fullmatch(text)
    return None if simple is None else _simple_url(text, simple)


def _host_shortcut(kind: IndicatorType) -> Callable[[str], CanonicalIndicator | None]:
    def canonical_host(text: str) -> CanonicalIndicator | None:
        if _FAST_HOST_RE.fullmatch(text) and _plain_host_name(text):
            return CanonicalIndicator(kind, text)
        return None

    return canonical_host


def _hash_shortcut(kind: IndicatorType) -> Callable[[str], CanonicalIndicator | None]:
    lengths = _HASH_LENGTHS[kind]

    def canonical_digest(text: str) -> CanonicalIndicator | None:
        return CanonicalIndicator(kind, text) if len(text) in lengths and _HEX_RE.fullmatch(text) else None

    return canonical_digest


#: For the commonest inputs: the canonical indicator of a text already in canonical form, or
#: None. A text they take has nothing to strip, no control character and nothing defanged,
#: so they skip those checks (a property test holds them to the full path's results).
_SHORTCUTS: dict[str, Callable[[str], CanonicalIndicator | None]] = {
    IndicatorType.IPV4: _dotted_quad_shortcut,
    IndicatorType.IPV6: _ipv6_shortcut,
    IndicatorType.URL: _url_shortcut,
    IndicatorType.DOMAIN: _host_shortcut(IndicatorType.DOMAIN),
    IndicatorType.HOSTNAME: _host_shortcut(IndicatorType.HOSTNAME),
    **{kind: _hash_shortcut(kind) for kind in _HASH_LENGTHS},
}


def _canonical_in_full(indicator_type: IndicatorType | str, value: object) -> CanonicalIndicator:
    """:func:`canonical_indicator` without its shortcuts for common inputs."""
    kind = _coerce_type(indicator_type)
    text = _prepare(value)
    refanger = _REFANGERS.get(kind)
    if refanger is not None:
        refanged = refanger(text)
        if refanged != text:
            kind_out, canonical, _ = _CANONICALISERS[kind](refanged)
            return CanonicalIndicator(kind_out, canonical, refanged=True)
    return _CANONICALISERS[kind](text)


def canonicalize(indicator_type: IndicatorType | str, value: object) -> str:
    """Canonical value of ``value`` reported as ``indicator_type`` (see :func:`canonical_indicator`)."""
    return canonical_indicator(indicator_type, value).value


# --------------------------------------------------------------------------------------------
# Document identity


def _digest(canonical_value: str) -> str:
    return hashlib.sha256(canonical_value.encode("utf-8")).hexdigest()


_CHECKED_SOURCES: set[str] = set()


def check_source(source: str) -> None:
    """Refuse a source name that cannot be part of a document id (``[a-z0-9_.-]{1,64}``)."""
    if not isinstance(source, str):
        raise ValueError(f"source must be a string, got {type(source).__name__}")
    if source in _CHECKED_SOURCES:
        return
    if not _SOURCE_RE.fullmatch(source):
        raise ValueError(f"source must match [a-z0-9_.-]{{1,64}}, got {source!r}")
    _CHECKED_SOURCES.add(source)


def indicator_id(source: str, indicator_type: IndicatorType | str, canonical_value: str) -> str:
    """Deterministic Cosmos DB id ``source:type:sha256(value)``; never contains the raw value."""
    check_source(source)
    kind = _coerce_type(indicator_type)
    return f"{source}:{kind.value}:{_digest(canonical_value)}"


def indicator_keys(source: str, indicator_type: IndicatorType, canonical_value: str) -> tuple[str, str]:
    """``(indicator_id(...), partition_key(...))`` from one digest of the value."""
    if source not in _CHECKED_SOURCES:
        check_source(source)
    digest = hashlib.sha256(canonical_value.encode("utf-8")).hexdigest()
    kind: str = indicator_type._value_  # what the StrEnum formats as, without the call
    return f"{source}:{kind}:{digest}", f"{kind}_{digest[:2]}"


def partition_key(indicator_type: IndicatorType | str, canonical_value: str) -> str:
    """Partition key ``type_xx``, ``xx`` being the first two hex digits of sha256(value)."""
    kind = _coerce_type(indicator_type)
    return f"{kind.value}_{_digest(canonical_value)[:2]}"
