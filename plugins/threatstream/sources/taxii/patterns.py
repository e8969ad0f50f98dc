"""What a STIX pattern names: one observable (type and value) and the facts it states about it."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.sources.taxii.grammar import (
    Comparison,
    Expression,
    parse_observation,
    unescape,
    unsupported,
)

_STRING_BODY = r"(?:[^'\\]|\\['\\])*"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: The common shape, without the grammar: one ``=`` comparison of a string, with a plain path.
_COMPARISON = re.compile(
    rf"^\[\s*(?P<object>[A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(?P<path>{_NAME}(?:\.(?:{_NAME}|'{_STRING_BODY}'))*)"
    rf"\s*=\s*'(?P<value>{_STRING_BODY})'\s*\]$"
)
_PATH_STEP = re.compile(rf"\.(?:({_NAME})|'({_STRING_BODY})')")
#: File hash algorithms stored as indicators, strongest first (STIX names, upper case, no '-').
_HASHES: dict[str, IndicatorType] = {
    "SHA256": IndicatorType.FILEHASH_SHA256,
    "SHA1": IndicatorType.FILEHASH_SHA1,
    "MD5": IndicatorType.FILEHASH_MD5,
}
_VALUE_TYPES: dict[str, IndicatorType] = {
    "ipv4-addr": IndicatorType.IPV4,
    "ipv6-addr": IndicatorType.IPV6,
    "domain-name": IndicatorType.DOMAIN,
    "url": IndicatorType.URL,
    "email-addr": IndicatorType.EMAIL,
}
#: What a ``network-traffic`` endpoint (``dst_ref`` / ``src_ref``) may be.
_ENDPOINT_TYPES = ("ipv4-addr", "ipv6-addr", "domain-name")


class PatternIndicator(NamedTuple):
    """What a STIX pattern names: the indicator, and other facts the pattern states about it."""

    indicator_type: IndicatorType
    value: str
    facts: dict[str, Any]


def pattern_observable(pattern: Any) -> PatternIndicator:
    """The one observable a STIX pattern names, with the other facts it states.

    A single comparison is matched without the grammar; anything else is parsed with the
    STIX 2.1 pattern grammar and mapped when it is one of the compound forms of one
    observable (see :mod:`threatstream.sources.taxii`).

    :raises InvalidIndicator: ``unsupported_pattern`` for anything else, with the reason.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise unsupported("indicator has no pattern")
    text = pattern.strip()
    match = _COMPARISON.match(text)
    if match is not None:
        return _one_comparison(
            Comparison(match["object"], _path_steps(match["path"]), unescape(match["value"]))
        )
    return _observable(parse_observation(text), text)


def _path_steps(path: str) -> tuple[str, ...]:
    """The keys of a plain object path (``hashes.'SHA-256'`` -> ``("hashes", "SHA-256")``)."""
    first, _, rest = path.partition(".")
    later = _PATH_STEP.findall(f".{rest}") if rest else []
    return (first, *(name or unescape(quoted) for name, quoted in later))


def _one_comparison(comparison: Comparison) -> PatternIndicator:
    obj, path, value = comparison
    if not isinstance(value, str):
        raise unsupported(f"{obj}:{comparison.dotted} is compared with {value!r}, not a string")
    if obj == "file" and len(path) == 2 and path[0] == "hashes":
        algorithm = _algorithm(path[1])
        if algorithm in _HASHES:
            return PatternIndicator(_HASHES[algorithm], value, {})
    elif path == ("value",) and obj in _VALUE_TYPES:
        indicator_type = _VALUE_TYPES[obj]
        if indicator_type in (IndicatorType.IPV4, IndicatorType.IPV6) and "/" in value:
            indicator_type = IndicatorType.CIDR
        return PatternIndicator(indicator_type, value, {})
    raise unsupported(f"{obj}:{comparison.dotted} is not a supported observable")


def _algorithm(name: str) -> str:
    return name.upper().replace("-", "")


def _observable(expression: Expression, text: str) -> PatternIndicator:
    """The one observable an observation's comparisons name (the forms
    :mod:`threatstream.sources.taxii` lists)."""
    if isinstance(expression, Comparison):
        return _one_comparison(expression)
    operator, operands = expression
    if not all(isinstance(operand, Comparison) for operand in operands):
        raise unsupported(f"a condition mixing AND and OR, not one observable: {text[:120]!r}")
    comparisons: list[Comparison] = operands
    objects = sorted({c.object for c in comparisons})
    if len(objects) > 1:
        raise unsupported(f"compares several objects ({', '.join(objects)}), not one observable")
    obj = objects[0]
    if obj == "file":
        return _file(operator, comparisons)
    if operator == "OR":
        raise unsupported(f"alternatives ({obj} ... OR ...): each is a separate indicator")
    if obj == "network-traffic":
        return _endpoint(comparisons)
    if obj == "domain-name":
        return _resolving_domain(comparisons)
    raise unsupported(f"{obj}: a combination of comparisons that is not one observable")


def _file(operator: str, comparisons: list[Comparison]) -> PatternIndicator:
    """Several hashes of one file (``OR`` or ``AND``), with other properties (``AND`` only)."""
    hashes: dict[str, str] = {}
    properties: dict[str, Any] = {}
    for comparison in comparisons:
        if len(comparison.path) == 2 and comparison.path[0] == "hashes":
            name = comparison.path[1]
            if not isinstance(comparison.value, str):
                raise unsupported(f"file:hashes.{name} is not compared with a string")
            if hashes.get(name, comparison.value) != comparison.value:
                raise unsupported(f"several values of file:hashes.{name}: several files")
            hashes[name] = comparison.value
        elif operator == "AND":
            properties[comparison.dotted] = comparison.value
        else:
            raise unsupported(f"alternatives (file:{comparison.dotted} OR ...): not one file")
    strongest = next(
        (name for algorithm in _HASHES for name in hashes if _algorithm(name) == algorithm), None
    )
    if strongest is None:
        raise unsupported(f"no SHA-256, SHA-1 or MD5 among the file's hashes {sorted(hashes)}")
    facts: dict[str, Any] = {"file_hashes": hashes}
    if properties:
        facts["file"] = properties
    return PatternIndicator(_HASHES[_algorithm(strongest)], hashes[strongest], facts)


def _endpoint(comparisons: list[Comparison]) -> PatternIndicator:
    """``network-traffic:dst_ref`` (or ``src_ref``) ``.type`` and ``.value``, with ports and
    protocols as facts (the shape MISP exports ``ip-dst`` / ``ip-src`` / ``ip-dst|port`` in)."""
    refs = {c.path[0] for c in comparisons if c.path[0].endswith("_ref")}
    if len(refs) != 1:
        raise unsupported(f"network-traffic with {len(refs)} endpoints ({', '.join(sorted(refs))}), not one")
    ref = refs.pop()
    found = {c.path[1:]: c.value for c in comparisons if c.path[0] == ref}
    facts = {c.dotted: c.value for c in comparisons if c.path[0] != ref}
    kind, value = found.pop(("type",), None), found.pop(("value",), None)
    if found or kind not in _ENDPOINT_TYPES or not isinstance(value, str):
        raise unsupported(
            f"network-traffic:{ref} needs its .type ({', '.join(_ENDPOINT_TYPES)}) and .value, "
            "and nothing else"
        )
    observable = _one_comparison(Comparison(str(kind), ("value",), value))
    return PatternIndicator(observable.indicator_type, value, {"network_traffic": {"ref": ref, **facts}})


def _resolving_domain(comparisons: list[Comparison]) -> PatternIndicator:
    """``domain-name:value`` with the addresses it resolves to (MISP's ``domain|ip``)."""
    values = {c.value for c in comparisons if c.path == ("value",)}
    resolves = [c for c in comparisons if c.path != ("value",)]
    if len(values) != 1 or not all(
        c.path[:2] == ("resolves_to_refs", "[*]") and c.path[2:] in (("value",), ("type",)) for c in resolves
    ):
        raise unsupported("domain-name: only its value and resolves_to_refs[*] may be compared")
    addresses = sorted(str(c.value) for c in resolves if c.path[2:] == ("value",))
    observable = _one_comparison(Comparison("domain-name", ("value",), values.pop()))
    return PatternIndicator(observable.indicator_type, observable.value, {"resolves_to": addresses})
