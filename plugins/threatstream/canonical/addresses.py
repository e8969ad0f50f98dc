"""IP addresses and networks: canonical text, and refusal of what is not globally reachable."""

from __future__ import annotations

import bisect
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeAlias

from threatstream.canonical.errors import InvalidIndicator, excerpt
from threatstream.canonical.refang import refang_host_text
from threatstream.canonical.text import CanonicalIndicator, prepare
from threatstream.canonical.vocabulary import IndicatorType

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
DOTTED_QUAD_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


class Address(NamedTuple):
    """A parsed address: IPv4-mapped IPv6 addresses are the IPv4 address they carry."""

    version: int
    packed: bytes
    text: str  # canonical text: dotted quad, or RFC 5952 (compressed, lower-case)
    mapped: bool = False  # written as IPv4-mapped IPv6

    @property
    def indicator_type(self) -> IndicatorType:
        return IndicatorType.IPV4 if self.version == 4 else IndicatorType.IPV6


def parse_address(value: str, reason: str = "invalid_ip") -> Address:
    """The address a text writes (without zone id), or ``reason``."""
    if DOTTED_QUAD_RE.fullmatch(value):
        return Address(4, socket.inet_aton(value), value)
    if "%" in value:
        raise InvalidIndicator(reason, f"{excerpt(value)}: IPv6 zone ids are not accepted")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidIndicator(reason, f"{excerpt(value)} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv4Address):
        return Address(4, address.packed, str(address))
    mapped = address.ipv4_mapped
    if mapped is not None:
        return Address(4, mapped.packed, str(mapped), mapped=True)
    return Address(6, address.packed, address.compressed)


def address_text(version: int, number: int) -> str:
    """The canonical text (as :attr:`Address.text`) of address ``number`` of IP ``version``."""
    if version == 4:
        return socket.inet_ntoa(number.to_bytes(4, "big"))
    return ipaddress.IPv6Address(number).compressed


def require_global(address: Address) -> None:
    """Refuse an address in special-purpose space (``non_global_ip``)."""
    kind = (_V4_TABLE if address.version == 4 else _V6_TABLE).kind(address.packed)
    if kind is not None:
        raise _non_global(address.text, kind)


def global_dotted_quad(text: str) -> CanonicalIndicator:
    """An IPv4 address in canonical dotted-quad form, if global: one range lookup."""
    kind = _V4_TABLE.kind(socket.inet_aton(text))
    if kind is not None:
        raise _non_global(text, kind)
    return CanonicalIndicator(IndicatorType.IPV4, text)


def _non_global(text: str, kind: str) -> InvalidIndicator:
    return InvalidIndicator("non_global_ip", f"{text} is not globally routable: {kind} address")


def _ip(text: str) -> CanonicalIndicator:
    address = parse_address(text)
    require_global(address)
    return CanonicalIndicator(address.indicator_type, address.text)


def canonical_ip(value: str) -> str:
    """Canonical IPv4 (dotted quad) or IPv6 (compressed, lower-case) text of a global address.

    An IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is the IPv4 address it carries.
    """
    return _ip(refang_host_text(prepare(value))).value


def ip_indicator_type(value: str) -> IndicatorType:
    """IPv4 or IPv6, by the version of the address itself (whatever a source claims).

    Only parses the address; whether it is global is :func:`canonical_ip`'s business.
    An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is IPv4.
    """
    address = parse_address(refang_host_text(prepare(value)))
    return address.indicator_type


def ip_of_version(indicator_type: IndicatorType) -> Callable[[str], CanonicalIndicator]:
    """The canonicaliser of IPv4 or IPv6 addresses (the other version is ``ip_version_mismatch``)."""

    def canonical(text: str) -> CanonicalIndicator:
        if indicator_type is IndicatorType.IPV4 and (found := dotted_quad_shortcut(text)) is not None:
            return found
        address = parse_address(text)
        if address.version == 6 and indicator_type is IndicatorType.IPV4:
            raise InvalidIndicator("ip_version_mismatch", f"{excerpt(text)} is an IPv6 address, not IPv4")
        if address.version == 4 and indicator_type is IndicatorType.IPV6 and not address.mapped:
            raise InvalidIndicator("ip_version_mismatch", f"{excerpt(text)} is an IPv4 address, not IPv6")
        require_global(address)
        return CanonicalIndicator(address.indicator_type, address.text)

    return canonical


def cidr_indicator(text: str) -> CanonicalIndicator:
    """The canonical network of a prepared, refanged text."""
    if "/" not in text:
        raise InvalidIndicator("invalid_cidr", f"{excerpt(text)} has no /prefix")
    if "%" in text:
        raise InvalidIndicator("invalid_cidr", f"{excerpt(text)}: IPv6 zone ids are not accepted")
    try:
        network: _IPNetwork = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidIndicator("invalid_cidr", f"{excerpt(text)} is not a CIDR network") from None
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
    return cidr_indicator(refang_host_text(prepare(value))).value


def dotted_quad_shortcut(text: str) -> CanonicalIndicator | None:
    """The IPv4 indicator of a global address in canonical dotted-quad form, or None."""
    return global_dotted_quad(text) if DOTTED_QUAD_RE.fullmatch(text) else None


def ipv6_shortcut(text: str) -> CanonicalIndicator | None:
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
