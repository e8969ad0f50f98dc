"""MISP warninglists: known-benign values (public resolvers, top domains, empty-file hashes...).

The lists are the ones ``pymispwarninglists`` bundles (the MISP project's
``misp-warninglists``, pinned in the lock); a list is named by its folder there
(``public-dns-v4``, ``google``...). :func:`configured` loads the configured lists once per
process into one matcher per indicator type:

* ``string`` lists: a dict of exact values (as MISP compares them: ``.bing.com`` in a
  string list matches that text only, never ``www.bing.com``);
* ``hostname`` lists: a dict of host names; a host is looked up, then each of its parent
  domains label by label (``a.b.example.com``, ``b.example.com``, ``example.com``, ``com``);
  an entry with a leading dot (``.barclays``) covers the names under it, not itself;
* ``cidr`` lists: the ranges of every list of one address family cut into disjoint sorted
  intervals, each carrying the lists that cover it; an address is looked up by its text where
  the intervals are narrow (:func:`_address_lookup`), with :func:`bisect.bisect_right` where wide;
* ``substring`` and ``regex`` lists: scanned, only when such a list is configured.

A list applies to the indicator types whose MISP attribute types
(:data:`MISP_ATTRIBUTE_TYPES`) it names in ``matching_attributes``.
:meth:`Warninglists.check` returns the names of the lists a canonical value is on;
:meth:`Warninglists.quarantining` tells which of them the policy quarantines.
"""

from __future__ import annotations

import difflib
import json
import re
import socket
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Literal

from threatstream.canonical.addresses import address_text
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.compat import AirflowFailException
from threatstream.settings import SettingsError, settings

__all__ = [
    "CATEGORIES",
    "DEFAULT_WARNINGLISTS",
    "MISP_ATTRIBUTE_TYPES",
    "QUARANTINE_REASON",
    "WarninglistConfigError",
    "WarninglistInfo",
    "Warninglists",
    "available",
    "configured",
    "load",
    "package_version",
    "parse_policy",
    "parse_selection",
]

Action = Literal["flag", "quarantine"]
ACTIONS: Final[tuple[Action, ...]] = ("flag", "quarantine")
#: MISP's warninglist categories; a list that declares none is ``false_positive`` (MISP's default).
CATEGORIES: Final = ("false_positive", "known")
#: Quarantine reason of a value on a warninglist whose policy is ``quarantine``.
QUARANTINE_REASON: Final = "warninglist"

#: The lists checked unless ``[threatstream] warninglists`` says otherwise: the kinds MISP's
#: documentation names as its default warninglists (public resolvers, multicast, RFC 1918,
#: TLDs, Google's domains, hashes of empty files) plus Microsoft's domains, the Cisco
#: Umbrella top 1000 names (exact names only), the RFC 6761 special-use names, the
#: "what is my IP" services malware queries in sandboxes, and the two lists of hashes that
#: IOC feeds report by mistake. ``public-dns-hostname`` is left out: it
#: is a ``hostname`` list (every subdomain of an entry matches) holding whole domains such as
#: ``example.com`` and national ISPs'.
DEFAULT_WARNINGLISTS: Final = (
    "public-dns-v4",
    "public-dns-v6",
    "multicast",
    "rfc1918",
    "tlds",
    "rfc6761",
    "google",
    "microsoft",
    "cisco_top1000",
    "whats-my-ip",
    "empty-hashes",
    "common-ioc-false-positive",
    "ti-falsepositives",
)

#: The MISP attribute types each indicator type stands for (a list applies to an indicator
#: type when its ``matching_attributes`` names one of them).
MISP_ATTRIBUTE_TYPES: Final[Mapping[str, tuple[str, ...]]] = {
    IndicatorType.IPV4: ("ip-src", "ip-dst"),
    IndicatorType.IPV6: ("ip-src", "ip-dst"),
    IndicatorType.CIDR: ("ip-src", "ip-dst"),
    IndicatorType.DOMAIN: ("domain",),
    IndicatorType.HOSTNAME: ("hostname",),
    IndicatorType.EMAIL: ("email", "email-src", "email-dst"),
    IndicatorType.URL: ("url",),
    IndicatorType.URI: ("uri",),
    IndicatorType.FILEHASH_MD5: ("md5",),
    IndicatorType.FILEHASH_SHA1: ("sha1",),
    IndicatorType.FILEHASH_SHA256: ("sha256",),
    IndicatorType.FILEHASH_IMPHASH: ("imphash",),
    IndicatorType.FILEHASH_PEHASH: ("pehash",),
    IndicatorType.JA3: ("ja3-fingerprint-md5",),
    IndicatorType.SSL_CERT_FINGERPRINT: ("x509-fingerprint-sha1",),
    IndicatorType.BITCOIN_ADDRESS: ("btc",),
    IndicatorType.CVE: ("vulnerability",),
    IndicatorType.FILEPATH: ("filename",),
    IndicatorType.MUTEX: ("mutex",),
}

Kind = Literal["ip", "cidr", "host", "url", "caseless", "exact"]
#: How a canonical value of each type is compared (host names and hashes are lower-case).
_KIND_OF_TYPE: Final[Mapping[str, Kind]] = {
    IndicatorType.IPV4: "ip",
    IndicatorType.IPV6: "ip",
    IndicatorType.CIDR: "cidr",
    IndicatorType.DOMAIN: "host",
    IndicatorType.HOSTNAME: "host",
    IndicatorType.URL: "url",
    IndicatorType.URI: "url",
    IndicatorType.FILEHASH_MD5: "caseless",
    IndicatorType.FILEHASH_SHA1: "caseless",
    IndicatorType.FILEHASH_SHA256: "caseless",
    IndicatorType.FILEHASH_IMPHASH: "caseless",
    IndicatorType.FILEHASH_PEHASH: "caseless",
    IndicatorType.JA3: "caseless",
    IndicatorType.SSL_CERT_FINGERPRINT: "caseless",
}
_LIST_TYPES: Final = ("string", "substring", "hostname", "cidr", "regex")
#: Address ranges up to this size are looked up by their addresses' text (see _address_lookup)...
_SPELLED_OUT: Final = 256
#: ...up to this many addresses in all (about 15 MB); the rest are searched by number.
_MAX_SPELLED: Final = 1 << 17
_REGEX_FLAGS: Final = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}

Names = tuple[str, ...]
_NONE: Final[Names] = ()


class WarninglistConfigError(AirflowFailException, SettingsError):
    """The warninglist settings name a list or a policy that does not exist (fails at once)."""


@dataclass(frozen=True)
class WarninglistInfo:
    """One list as published: its folder name, MISP name and how it matches."""

    slug: str
    name: str
    description: str
    version: int
    type: str
    category: str
    matching_attributes: tuple[str, ...]
    entries: int


# ------------------------------------------------------------------------------ catalogue


def _data_dir() -> Path:
    import pymispwarninglists

    return Path(pymispwarninglists.__file__).parent / "data" / "misp-warninglists" / "lists"


@cache
def available() -> Mapping[str, Path]:
    """Every bundled list's ``list.json``, by folder name."""
    return {path.parent.name: path for path in sorted(_data_dir().glob("*/list.json"))}


def package_version() -> str:
    """The installed ``pymispwarninglists`` version (the lists' release)."""
    return metadata.version("pymispwarninglists")


def _unknown(name: str, what: str) -> WarninglistConfigError:
    close = difflib.get_close_matches(name, list(available()), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return WarninglistConfigError(
        f"[threatstream] {what}: no warninglist named {name!r} in pymispwarninglists "
        f"{package_version()}{hint} (names are the folders of misp-warninglists/lists, "
        "see docs/warninglists.md)"
    )


def parse_selection(text: str | Sequence[str] | None) -> Names:
    """The list names a ``warninglists`` setting selects, checked against the bundled lists.

    Comma-separated names; ``default`` stands for :data:`DEFAULT_WARNINGLISTS`; ``none``
    (alone) selects nothing; empty: the default set.
    """
    items = text.split(",") if isinstance(text, str) else list(text or ())
    names = [item.strip() for item in items if item.strip()]
    if not names:
        return DEFAULT_WARNINGLISTS
    if [name.lower() for name in names] == ["none"]:
        return _NONE
    selected: dict[str, None] = {}
    for name in names:
        for each in DEFAULT_WARNINGLISTS if name.lower() == "default" else (name,):
            if each not in available():
                raise _unknown(each, "warninglists")
            selected[each] = None
    return tuple(selected)


def parse_policy(value: str | Mapping[str, Any] | None) -> dict[str, Action]:
    """The ``warninglist_policy`` setting: category or list name -> ``flag`` / ``quarantine``.

    Categories are ``false_positive`` and ``known`` (``false-positive`` also works); both
    default to ``flag``. A list's own entry wins over its category's.
    """
    try:
        decoded: Any = json.loads(value) if isinstance(value, str) and value.strip() else value or {}
    except json.JSONDecodeError as err:
        raise WarninglistConfigError(f"[threatstream] warninglist_policy is not JSON ({err})") from None
    if not isinstance(decoded, Mapping):
        raise WarninglistConfigError("[threatstream] warninglist_policy must be a JSON object")
    policy: dict[str, Action] = dict.fromkeys(CATEGORIES, "flag")
    for raw_key, action in decoded.items():
        key = str(raw_key).strip()
        if key.replace("-", "_") in CATEGORIES:
            key = key.replace("-", "_")
        elif key not in available():
            raise _unknown(key, "warninglist_policy")
        if action not in ACTIONS:
            raise WarninglistConfigError(
                f"[threatstream] warninglist_policy: {key} must be flag or quarantine, got {action!r}"
            )
        policy[key] = action
    return policy


def _read(slug: str) -> dict[str, Any]:
    path = available().get(slug)
    if path is None:
        raise _unknown(slug, "warninglists")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("type", "string") not in _LIST_TYPES:
        raise WarninglistConfigError(f"warninglist {slug} has an unknown type {data.get('type')!r}")
    return data


def _info(slug: str, data: Mapping[str, Any]) -> WarninglistInfo:
    entries = data.get("list") or []
    return WarninglistInfo(
        slug=slug,
        name=str(data.get("name", slug)),
        description=str(data.get("description", "")),
        version=int(data.get("version", 1)),
        type=str(data.get("type", "string")),
        category=str(data.get("category") or "false_positive").replace("-", "_"),
        matching_attributes=tuple(data.get("matching_attributes") or ()),
        entries=len(entries),
    )


def _entries(data: Mapping[str, Any]) -> list[str]:
    """A list's values (MISP also publishes ``{value: comment}`` lists)."""
    values = data.get("list") or []
    return [str(value) for value in values if str(value).strip()]


# ------------------------------------------------------------------------------ matching


class _Ranges:
    """Disjoint sorted integer intervals, each with the lists that cover it."""

    __slots__ = ("ends", "names", "starts")

    def __init__(self, starts: Sequence[int], ends: Sequence[int], names: list[Names]) -> None:
        self.starts = starts
        self.ends = ends
        self.names = names

    @classmethod
    def build(
        cls, ranges: Iterable[tuple[int, int, str]], intern: Callable[[Names], Names], bits: int
    ) -> _Ranges:
        """Sorted, disjoint segments: a range that overlaps none is kept as it is; only a
        cluster of overlapping ranges is cut where its ranges start and end."""
        starts: list[int] = []
        ends: list[int] = []
        names: list[Names] = []

        def emit(start: int, end: int, covering: Names) -> None:
            if ends and ends[-1] + 1 == start and names[-1] is covering:
                ends[-1] = end  # adjacent, same lists: one segment
            else:
                starts.append(start)
                ends.append(end)
                names.append(covering)

        cluster: list[tuple[int, int, str]] = []
        reach = -1
        for item in sorted(ranges):
            if cluster and item[0] > reach:
                cls._cut(cluster, intern, emit)
                cluster = []
            cluster.append(item)
            reach = max(reach, item[1]) if len(cluster) > 1 else item[1]
        if cluster:
            cls._cut(cluster, intern, emit)
        if bits <= 32:  # the ends compactly (one read per look-up); the starts stay a list for bisect
            return cls(starts, array("I", ends), names)
        return cls(starts, ends, names)

    @staticmethod
    def _cut(
        cluster: list[tuple[int, int, str]],
        intern: Callable[[Names], Names],
        emit: Callable[[int, int, Names], None],
    ) -> None:
        if len(cluster) == 1:
            start, end, name = cluster[0]
            emit(start, end, intern((name,)))
            return
        events: dict[int, list[tuple[int, str]]] = {}
        for start, end, name in cluster:
            events.setdefault(start, []).append((1, name))
            events.setdefault(end + 1, []).append((-1, name))
        active: dict[str, int] = {}
        positions = sorted(events)
        for index, position in enumerate(positions[:-1]):
            for delta, name in events[position]:
                count = active.get(name, 0) + delta
                if count:
                    active[name] = count
                else:
                    active.pop(name, None)
            if active:
                emit(position, positions[index + 1] - 1, intern(tuple(sorted(active))))

    def at(self, number: int) -> Names:
        index = bisect_right(self.starts, number) - 1
        if index >= 0 and number <= self.ends[index]:
            return self.names[index]
        return _NONE

    def covering(self, low: int, high: int) -> Names:
        """The lists that cover every number of ``low..high``."""
        index = bisect_right(self.starts, low) - 1
        if index < 0 or low > self.ends[index]:
            return _NONE
        common = set(self.names[index])
        reached = self.ends[index]
        while reached < high and common:
            index += 1
            if index == len(self.starts) or self.starts[index] != reached + 1:
                return _NONE
            common &= set(self.names[index])
            reached = self.ends[index]
        return tuple(sorted(common))


def _address(text: str) -> tuple[int, int] | None:
    """``(family bits, integer)`` of an IP address, None if it is not one."""
    try:
        if ":" in text:
            return 128, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        return 32, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        return None


def _address_lookup(exact: Mapping[str, Names], tables: Mapping[int, _Ranges]) -> Callable[[str], Names]:
    """The look-up of a canonical address, mostly one dict read.

    Single addresses and ranges of at most :data:`_SPELLED_OUT` addresses (nearly every entry
    of the default address lists) are spelled out in a dict by canonical text, holding every
    list the address is on, smallest first and at most :data:`_MAX_SPELLED` addresses in all
    (a list of VPN ranges would spell out millions). Only the rest (RFC 1918, multicast...)
    are searched by number, and an IPv4 address only when its first octet falls in one of them.
    """
    spelled: dict[str, Names] = {}
    segments = sorted(
        (end - start + 1, bits, start, end, names)
        for bits, table in tables.items()
        for start, end, names in zip(table.starts, table.ends, table.names, strict=True)
    )
    budget = _MAX_SPELLED
    searched: dict[int, list[tuple[int, int, Names]]] = {}
    for size, bits, start, end, names in segments:
        if size <= min(_SPELLED_OUT, budget):
            budget -= size
            version = 4 if bits == 32 else 6
            spelled.update((address_text(version, n), names) for n in range(start, end + 1))
        else:
            searched.setdefault(bits, []).append((start, end, names))
    wide: dict[int, _Ranges] = {}
    for bits, kept in searched.items():
        starts, ends, names_of = zip(*sorted(kept), strict=True)
        wide[bits] = _Ranges(list(starts), list(ends), list(names_of))
    for text, names in exact.items():  # string lists' values: with the ranges they are in
        parsed = _address(text)
        covering = wide[parsed[0]].at(parsed[1]) if parsed and parsed[0] in wide else _NONE
        spelled[text] = _join(_join(spelled.get(text, _NONE), names), covering)
    v4, v6 = wide.get(32), wide.get(128)
    v4_octets = frozenset(
        str(octet)
        for start, end in (zip(v4.starts, v4.ends, strict=True) if v4 else ())
        for octet in range(start >> 24, (end >> 24) + 1)
    )

    def lookup(value: str) -> Names:
        found = spelled.get(value)
        if found is not None:
            return found
        if ":" in value:
            table = v6
        elif value[: value.find(".")] in v4_octets:
            table = v4
        else:
            return _NONE
        parsed = _address(value) if table is not None else None
        return table.at(parsed[1]) if table is not None and parsed is not None else _NONE

    return lookup


def _network(text: str) -> tuple[int, int, int] | None:
    """``(family bits, first, last)`` of an address or CIDR block, None if it is neither."""
    address, _, prefix = text.strip().partition("/")
    parsed = _address(address)
    if parsed is None:
        return None
    bits, number = parsed
    try:
        length = int(prefix) if prefix else bits
    except ValueError:
        return None
    if not 0 <= length <= bits:
        return None
    host_bits = bits - length
    first = number >> host_bits << host_bits
    return bits, first, first | ((1 << host_bits) - 1)


def _url_host(value: str) -> str:
    """The host of a URL (or of a ``host/path`` value), without user info or port."""
    start = value.find("//")
    start = start + 2 if start >= 0 else 0
    end = value.find("/", start)
    authority = value[start:end] if end >= 0 else value[start:]
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    if ":" in authority:
        authority = authority.partition(":")[0]
    return authority.lower().rstrip(".")


def _tail(host: str) -> str:
    """The last two labels of a host name (the whole name if it has fewer)."""
    last = host.rfind(".")
    return host[host.rfind(".", 0, last) + 1 :] if last >= 0 else host


def _host_lookup(
    exact: Mapping[str, Names], suffix: Mapping[str, Names], walk: Callable[[str], Names], *, url: bool
) -> Callable[[str], Names]:
    """The look-up of a host name (or a URL's host) against exact values and hostname lists.

    A listed name can only cover a host whose last two labels are the name's own (or whose
    last label it is), so a host whose tail no entry has is not walked at all.
    """
    tails = frozenset(_tail(entry) for entry in suffix)

    def lookup(value: str) -> Names:
        found = exact.get(value, _NONE)
        host = _url_host(value) if url else value
        if _tail(host) not in tails and host[host.rfind(".") + 1 :] not in tails:
            return found
        hit = walk(host)
        return _join(found, hit) if hit else found

    return lookup


def _regex(entry: str) -> re.Pattern[str]:
    """A MISP (PCRE) ``/pattern/flags`` entry as a Python pattern."""
    pattern, flags = entry, 0
    if len(entry) > 1 and entry[0] == "/" and entry.rfind("/") > 0:
        closing = entry.rfind("/")
        pattern = entry[1:closing]
        for letter in entry[closing + 1 :]:
            flags |= _REGEX_FLAGS.get(letter, 0)
    return re.compile(pattern, flags)


@dataclass
class _Matcher:
    """Every configured list that applies to one indicator type, in look-up structures."""

    kind: Kind
    exact: dict[str, Names] = field(default_factory=dict)
    #: Host names (hostname lists) matching their subdomains...
    suffix: dict[str, Names] = field(default_factory=dict)
    #: ...and themselves, unless the entry starts with a dot (``.barclays``: subdomains only).
    named: dict[str, Names] = field(default_factory=dict)
    ranges: dict[int, _Ranges] = field(default_factory=dict)
    substrings: list[tuple[str, str]] = field(default_factory=list)
    regexes: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def finish(self) -> Callable[[str], Names]:
        """The fastest look-up for what this matcher holds."""
        exact = self.exact
        if self.substrings or self.regexes:
            return self.match
        if self.kind == "ip":
            return _address_lookup(exact, self.ranges)
        if self.kind in ("host", "url") and self.suffix:
            return _host_lookup(exact, self.suffix, self._host, url=self.kind == "url")
        if not self.ranges:
            return lambda value: exact.get(value, _NONE)
        return self.match

    def match(self, value: str) -> Names:
        """The lists ``value`` is on (every structure, in turn)."""
        kind = self.kind
        found: Names = self.exact.get(value, _NONE) if self.exact else _NONE
        if kind in {"host", "url"}:
            if self.suffix:
                found = _join(found, self._host(value if kind == "host" else _url_host(value)))
        elif self.ranges:
            found = _join(found, self._ranges(value))
        if self.substrings:
            found = _join(found, tuple(name for part, name in self.substrings if part in value))
        if self.regexes:
            found = _join(found, tuple(name for pattern, name in self.regexes if pattern.search(value)))
        return found

    def _host(self, host: str) -> Names:
        """Hits of ``host`` and each of its parent domains (label by label)."""
        suffix = self.suffix
        found = self.named.get(host, _NONE)
        dot = host.find(".")
        while dot >= 0:
            hit = suffix.get(host[dot + 1 :])
            if hit:
                found = _join(found, hit)
            dot = host.find(".", dot + 1)
        return found

    def _ranges(self, value: str) -> Names:
        if self.kind == "ip":
            parsed = _address(value)
            if parsed is None:
                return _NONE
            table = self.ranges.get(parsed[0])
            return table.at(parsed[1]) if table else _NONE
        network = _network(value)
        if network is None:
            return _NONE
        table = self.ranges.get(network[0])
        return table.covering(network[1], network[2]) if table else _NONE


def _join(found: Names, more: Names) -> Names:
    if not more:
        return found
    if not found:
        return more
    return tuple(sorted(set(found) | set(more)))


class _Builder:
    """Builds one :class:`_Matcher` per distinct (kind, applicable lists), sharing name tuples."""

    def __init__(self, lists: Mapping[str, dict[str, Any]]) -> None:
        self._lists = lists
        self._tuples: dict[Names, Names] = {}
        self._ranges: dict[tuple[int, Names], _Ranges] = {}
        self._parsed: dict[str, list[tuple[int, int, int]]] = {}

    def _networks(self, slug: str, entries: list[str]) -> list[tuple[int, int, int]]:
        """A cidr list's entries as ``(bits, first, last)``, parsed once."""
        if slug not in self._parsed:
            self._parsed[slug] = [network for entry in entries if (network := _network(entry))]
        return self._parsed[slug]

    def intern(self, names: Names) -> Names:
        return self._tuples.setdefault(names, names)

    def _add(self, table: dict[str, Names], key: str, slug: str) -> None:
        present = table.get(key)
        if present is None:
            table[key] = self.intern((slug,))
        elif slug not in present:
            table[key] = self.intern(tuple(sorted((*present, slug))))

    def matcher(self, kind: Kind, slugs: Names) -> _Matcher:
        matcher = _Matcher(kind)
        ranges: dict[int, list[tuple[int, int, str]]] = {}
        lower = kind in ("host", "caseless")
        for slug in slugs:
            data = self._lists[slug]
            list_type = data.get("type", "string")
            entries = _entries(data)
            if list_type == "cidr":
                if kind in ("ip", "cidr"):
                    for bits, first, last in self._networks(slug, entries):
                        ranges.setdefault(bits, []).append((first, last, slug))
            elif list_type == "substring":
                matcher.substrings.extend((entry, slug) for entry in entries)
            elif list_type == "regex":
                try:
                    matcher.regexes.extend((_regex(entry), slug) for entry in entries)
                except re.error as err:
                    raise WarninglistConfigError(
                        f"warninglist {slug}: a pattern Python cannot use ({err})"
                    ) from None
            elif list_type == "hostname" and kind in ("host", "url"):
                for entry in entries:
                    if host := entry.strip().strip(".").lower():
                        self._add(matcher.suffix, host, slug)
                        if not entry.strip().startswith("."):
                            self._add(matcher.named, host, slug)
            else:  # string lists (and host lists against non-host types): exact values
                for entry in entries:
                    text = entry.strip()
                    if lower:
                        text = text.lower().rstrip(".") if kind == "host" else text.lower()
                    self._add(matcher.exact, text, slug)
        for bits, items in ranges.items():
            key = (bits, tuple(sorted({item[2] for item in items})))
            if key not in self._ranges:
                self._ranges[key] = _Ranges.build(items, self.intern, bits)
            matcher.ranges[bits] = self._ranges[key]
        return matcher


# ------------------------------------------------------------------------------ the lists


class Warninglists:
    """The configured lists, loaded, with the policy for their hits.

    :param lists: each list's published JSON, by folder name.
    :param policy: category or list name -> action (see :func:`parse_policy`).
    """

    def __init__(
        self, lists: Mapping[str, dict[str, Any]], policy: Mapping[str, Action] | None = None
    ) -> None:
        self.info: dict[str, WarninglistInfo] = {slug: _info(slug, data) for slug, data in lists.items()}
        self.policy: dict[str, Action] = {**dict.fromkeys(CATEGORIES, "flag"), **(policy or {})}
        self.actions: dict[str, Action] = {
            slug: self.policy.get(slug) or self.policy.get(info.category, "flag")
            for slug, info in self.info.items()
        }
        builder = _Builder(lists)
        shared: dict[tuple[Kind, Names], Callable[[str], Names]] = {}
        self._matchers: dict[str, Callable[[str], Names]] = {}
        for indicator_type in IndicatorType:
            attribute_types = set(MISP_ATTRIBUTE_TYPES.get(indicator_type, ()))
            slugs = tuple(
                slug
                for slug, info in self.info.items()
                if not info.matching_attributes or attribute_types & set(info.matching_attributes)
            )
            if not slugs:
                continue
            kind = _KIND_OF_TYPE.get(indicator_type, "exact")
            key = (kind, slugs)
            if key not in shared:
                shared[key] = builder.matcher(kind, slugs).finish()
            self._matchers[indicator_type.value] = shared[key]

    @property
    def names(self) -> Names:
        """The loaded lists' folder names."""
        return tuple(self.info)

    def check(self, indicator_type: str, value: str) -> Names:
        """The lists (sorted folder names) the canonical ``value`` of ``indicator_type`` is on."""
        match = self._matchers.get(indicator_type)
        return match(value) if match is not None else _NONE

    def quarantining(self, hits: Iterable[str]) -> Names:
        """The lists among ``hits`` whose policy is ``quarantine``."""
        actions = self.actions
        return tuple(name for name in hits if actions.get(name) == "quarantine")

    def applicable(self, indicator_type: str) -> bool:
        """Whether any loaded list applies to ``indicator_type``."""
        return indicator_type in self._matchers


def load(names: Sequence[str], policy: Mapping[str, Action] | None = None) -> Warninglists:
    """Read and index the lists ``names`` (folder names) from the installed package."""
    return Warninglists({slug: _read(slug) for slug in names}, policy)


@cache
def _configured(selection: str, policy: str) -> Warninglists:
    return load(parse_selection(selection), parse_policy(policy))


def configured() -> Warninglists:
    """The lists and policy of the ``[threatstream]`` settings, loaded once per process.

    :raises WarninglistConfigError: an unknown list name or policy (the task fails at once).
    """
    current = settings()
    return _configured(current.warninglists, current.warninglist_policy)
