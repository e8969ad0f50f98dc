"""The canonical (type, value) of an indicator of any type: the type's rules, by table.

:func:`canonical_indicator` tries a shortcut for values already in canonical form (the
commonest inputs), then prepares, refangs and canonicalises the value in full.
"""

from __future__ import annotations

from collections.abc import Callable

from threatstream.canonical.addresses import (
    cidr_indicator,
    dotted_quad_shortcut,
    ip_of_version,
    ipv6_shortcut,
)
from threatstream.canonical.hashes import HASH_LENGTHS, hash_of, hash_shortcut
from threatstream.canonical.hostnames import host_name, host_shortcut
from threatstream.canonical.identifiers import bitcoin_address, cve, email
from threatstream.canonical.refang import REFANGERS
from threatstream.canonical.text import (
    LONG_TEXT_MAX_BYTES,
    TEXT_MAX_BYTES,
    CanonicalIndicator,
    Canonicaliser,
    coerce_type,
    free_text,
    prepare,
)
from threatstream.canonical.urls import uri_indicator, url_indicator, url_shortcut
from threatstream.canonical.vocabulary import IndicatorType


def _same_type(kind: IndicatorType, canonical: Callable[[str], str]) -> Canonicaliser:
    return lambda text: CanonicalIndicator(kind, canonical(text))


# Each takes the prepared (stripped, control-free) and refanged text.
_CANONICALISERS: dict[IndicatorType, Canonicaliser] = {
    IndicatorType.IPV4: ip_of_version(IndicatorType.IPV4),
    IndicatorType.IPV6: ip_of_version(IndicatorType.IPV6),
    IndicatorType.CIDR: cidr_indicator,
    IndicatorType.DOMAIN: _same_type(IndicatorType.DOMAIN, host_name),
    IndicatorType.HOSTNAME: _same_type(IndicatorType.HOSTNAME, host_name),
    IndicatorType.EMAIL: _same_type(IndicatorType.EMAIL, email),
    IndicatorType.URL: url_indicator,
    IndicatorType.URI: uri_indicator,
    IndicatorType.FILEPATH: free_text(IndicatorType.FILEPATH, TEXT_MAX_BYTES),
    IndicatorType.MUTEX: free_text(IndicatorType.MUTEX, TEXT_MAX_BYTES),
    IndicatorType.YARA: free_text(IndicatorType.YARA, LONG_TEXT_MAX_BYTES),
    IndicatorType.OSQUERY: free_text(IndicatorType.OSQUERY, LONG_TEXT_MAX_BYTES),
    IndicatorType.CVE: _same_type(IndicatorType.CVE, cve),
    IndicatorType.BITCOIN_ADDRESS: _same_type(IndicatorType.BITCOIN_ADDRESS, bitcoin_address),
    **{kind: hash_of(kind) for kind in HASH_LENGTHS},
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


#: For the commonest inputs: the canonical indicator of a text already in canonical form, or
#: None. A text they take has nothing to strip, no control character and nothing defanged,
#: so they skip those checks (a property test holds them to the full path's results).
_SHORTCUTS: dict[str, Callable[[str], CanonicalIndicator | None]] = {
    IndicatorType.IPV4: dotted_quad_shortcut,
    IndicatorType.IPV6: ipv6_shortcut,
    IndicatorType.URL: url_shortcut,
    IndicatorType.DOMAIN: host_shortcut(IndicatorType.DOMAIN),
    IndicatorType.HOSTNAME: host_shortcut(IndicatorType.HOSTNAME),
    **{kind: hash_shortcut(kind) for kind in HASH_LENGTHS},
}


def _canonical_in_full(indicator_type: IndicatorType | str, value: object) -> CanonicalIndicator:
    """:func:`canonical_indicator` without its shortcuts for common inputs."""
    kind = coerce_type(indicator_type)
    text = prepare(value)
    refanger = REFANGERS.get(kind)
    if refanger is not None:
        refanged = refanger(text)
        if refanged != text:
            kind_out, canonical, _ = _CANONICALISERS[kind](refanged)
            return CanonicalIndicator(kind_out, canonical, refanged=True)
    return _CANONICALISERS[kind](text)


def canonicalize(indicator_type: IndicatorType | str, value: object) -> str:
    """Canonical value of ``value`` reported as ``indicator_type`` (see :func:`canonical_indicator`)."""
    return canonical_indicator(indicator_type, value).value
