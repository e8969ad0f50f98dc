"""STIX patterns are built safely from any canonical value (property-based)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from threatstream.merged.stix import PATTERN_PATHS, escape_pattern_string, pattern_for

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)


def unescape(literal: str) -> str:
    """Inverse of the STIX string-literal escaping (for the round-trip check)."""
    assert literal.startswith("'")
    assert literal.endswith("'")
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            i += 1
        out.append(body[i])
        i += 1
    return "".join(out)


TEXT_KINDS = sorted(kind for kind in PATTERN_PATHS if not kind.startswith("FileHash"))
HASH_LENGTHS = {"FileHash-MD5": 32, "FileHash-SHA1": 40, "FileHash-SHA256": 64, "FileHash-IMPHASH": 32}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TEXT_KINDS), TEXT)
def test_any_value_gives_a_valid_pattern(kind: str, value: str) -> None:
    from stix2patterns.validator import run_validator

    built = pattern_for(kind, value)
    assert built is not None
    pattern, pattern_type = built
    assert pattern_type == "stix"
    assert run_validator(pattern) == [], pattern


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_escaping_round_trips(value: str) -> None:
    from stix2patterns.pattern import Pattern

    pattern = f"[url:value = {escape_pattern_string(value)}]"
    (comparison,) = Pattern(pattern).inspect().comparisons["url"]
    assert unescape(comparison[2]) == value


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(HASH_LENGTHS)), st.data())
def test_hash_patterns_are_valid(kind: str, data: st.DataObject) -> None:
    from stix2patterns.validator import run_validator

    digest = data.draw(st.text("0123456789abcdef", min_size=HASH_LENGTHS[kind], max_size=HASH_LENGTHS[kind]))
    built = pattern_for(kind, digest)
    assert built is not None
    assert run_validator(built[0]) == [], built[0]
