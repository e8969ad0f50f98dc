"""Observation -> Indicator: ids, partition keys, timestamps and TTL."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threatstream.batches.encoding import decode_line, encode_document
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.records.indicators import DocumentBuilder, Indicator, Observation

INGESTED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NINETY_DAYS = timedelta(days=90)


def _url(value: str, **kwargs: object) -> Indicator:
    observation = Observation(indicator_type=IndicatorType.URL, value=value, **kwargs)  # type: ignore[arg-type]
    return observation.to_indicator("urlhaus", ingested_at=INGESTED, default_ttl=NINETY_DAYS)


def test_document_fields_and_formats() -> None:
    indicator = _url(
        "HTTP://Evil.Example.COM:80/a/b?x=%2f#frag",
        tags=("elf", " Mozi ", "elf", ""),
        tlp=TLP.CLEAR,
        first_seen=datetime(2021, 10, 5, 13, 54, 10),
        raw_metadata={"threat": "malware_download"},
    )
    document = indicator.to_document()
    value = "http://evil.example.com/a/b?x=%2F#frag"
    digest = hashlib.sha256(value.encode()).hexdigest()
    assert document["indicator_value"] == value
    assert document["id"] == f"urlhaus:URL:{digest}"
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,255}", document["id"])
    assert "/" not in document["id"]
    assert document["partition_key"] == f"URL_{digest[:2]}"
    assert document["tags"] == ["Mozi", "elf"]
    assert document["tlp"] == "clear"
    assert document["first_seen"] == "2021-10-05T13:54:10Z"
    assert document["ingested_at"] == "2026-11-28T10:00:00Z"
    assert document["valid_until"] is None
    assert document["ttl"] == int(NINETY_DAYS.total_seconds())
    assert document["raw_metadata"] == {"threat": "malware_download"}


def test_same_indicator_in_other_spelling_gets_same_id() -> None:
    assert _url("http://EVIL.example.com/x").id == _url("http://evil.example.com:80/x").id


def test_ttl_never_outlives_valid_until() -> None:
    valid_until = INGESTED + timedelta(days=2)
    indicator = _url("http://evil.example.com/", valid_until=valid_until)
    assert indicator.ttl == 2 * 86400
    assert indicator.to_document()["valid_until"] == "2026-11-30T10:00:00Z"


def test_expiry() -> None:
    past = Observation(
        indicator_type=IndicatorType.IPV4, value="1.1.1.1", valid_until=INGESTED - timedelta(seconds=1)
    )
    inactive = Observation(indicator_type=IndicatorType.IPV4, value="1.1.1.1", is_active=False)
    current = Observation(
        indicator_type=IndicatorType.IPV4, value="1.1.1.1", valid_until=INGESTED + timedelta(hours=1)
    )
    assert past.is_expired(INGESTED)
    assert inactive.is_expired(INGESTED)
    assert not current.is_expired(INGESTED)


def test_invalid_value_raises_with_reason() -> None:
    with pytest.raises(InvalidIndicator) as caught:
        _url("   ")
    assert caught.value.reason == "empty"


def test_confidence_bounds() -> None:
    with pytest.raises(ValueError, match="confidence"):
        Observation(indicator_type=IndicatorType.IPV4, value="1.1.1.1", confidence=101)


# ----------------------------------------------------------------------------------------------
# One validation per record: the document is built without validating again, and still
# satisfies the documented schema (Indicator).

_kinds_and_values = st.sampled_from(
    [
        (IndicatorType.URL, "HTTP://Evil.Example.COM:80/a?x=%2f"),
        (IndicatorType.URL, "hxxp://evil[.]example[.]com/x"),
        (IndicatorType.URI, "https://Example.com"),
        (IndicatorType.URI, "/wp-login.php"),
        (IndicatorType.IPV4, "8.8.8.8"),
        (IndicatorType.IPV6, "::ffff:1.1.1.1"),
        (IndicatorType.IPV6, "2A01:4F8::1"),
        (IndicatorType.CIDR, "1.2.3.4/24"),
        (IndicatorType.DOMAIN, "_dmarc.Example.com"),
        (IndicatorType.EMAIL, "a[at]example.com"),
        (IndicatorType.FILEHASH_MD5, "D41D8CD98F00B204E9800998ECF8427E"),
        (IndicatorType.MUTEX, "Global\\m"),
        (IndicatorType.YARA, "rule x {\n condition: true\n}"),
    ]
)
_instants = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()),
)


@settings(max_examples=150, deadline=None)
@given(
    _kinds_and_values,
    st.one_of(st.none(), st.integers(0, 100)),
    st.lists(st.text(max_size=8), max_size=4),
    st.one_of(st.none(), st.sampled_from(["TLP:AMBER", "white", "purple", "AMBER+STRICT"])),
    _instants,
    _instants,
    _instants,
    st.dictionaries(
        st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3
    ),
)
def test_document_is_valid_against_the_schema(
    kind_value: tuple[IndicatorType, str],
    confidence: int | None,
    tags: list[str],
    tlp: str | None,
    first_seen: datetime | None,
    last_seen: datetime | None,
    valid_until: datetime | None,
    raw_metadata: dict[str, object],
) -> None:
    kind, value = kind_value
    observation = Observation(
        indicator_type=kind,
        value=value,
        confidence=confidence,
        tags=tuple(tags),
        tlp=tlp,
        first_seen=first_seen,
        last_seen=last_seen,
        valid_until=valid_until,
        raw_metadata=raw_metadata,
    )
    document = observation.to_document("otx", ingested_at=INGESTED, default_ttl=NINETY_DAYS)
    assert (
        document
        == observation.to_indicator("otx", ingested_at=INGESTED, default_ttl=NINETY_DAYS).to_document()
    )
    # what is written validates against the documented schema and round-trips unchanged
    assert Indicator.model_validate(document).to_document() == document
    assert json.loads(json.dumps(document)) == document
    # the batch path (times left to the encoder) writes exactly this document
    builder = DocumentBuilder("otx", ingested_at=INGESTED, default_ttl=NINETY_DAYS)
    try:
        expected: bytes | None = encode_document(document)[0]
    except InvalidIndicator:  # e.g. an integer beyond 64 bits in raw metadata
        expected = None
    if expected is None:
        with pytest.raises(InvalidIndicator, match="unencodable"):
            encode_document(builder.fields(observation))
    else:
        assert encode_document(builder.fields(observation))[0] == expected
        assert decode_line(expected) == document


def test_to_document_matches_the_model_path_field_by_field() -> None:
    observation = Observation(
        indicator_type=IndicatorType.URI,
        value="hxxps://Evil[.]Example.com:443",
        tags=(" b", "a", "a"),
        tlp="tlp:red",
        first_seen=datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))),
        valid_until=INGESTED + timedelta(hours=1),
    )
    document = observation.to_document("otx", ingested_at=INGESTED, default_ttl=NINETY_DAYS)
    # ``warninglists`` is added by validate, and only to a value on a warninglist.
    assert list(document) == [name for name in Indicator.model_fields if name != "warninglists"]
    assert document["indicator_type"] == "URL"
    assert document["indicator_value"] == "https://evil.example.com/"
    assert document["tags"] == ["a", "b"]
    assert document["tlp"] == "red"
    assert document["first_seen"] == "2026-01-01T00:00:00Z"
    assert document["valid_until"] == "2026-11-28T11:00:00Z"
    assert document["ttl"] == 3600
    assert document["raw_metadata"] == {
        "original_value": "hxxps://Evil[.]Example.com:443",
        "original_type": "URI",
    }


def test_a_builder_refuses_a_source_that_cannot_be_part_of_an_id() -> None:
    DocumentBuilder("otx", ingested_at=INGESTED, default_ttl=NINETY_DAYS)
    for bad in ("OTX", "a b", "", "x" * 65):
        with pytest.raises(ValueError, match="source must match"):
            DocumentBuilder(bad, ingested_at=INGESTED, default_ttl=NINETY_DAYS)


def test_a_builder_gives_each_document_its_own_tag_list() -> None:
    """Tag sets repeat across a batch; each document still gets the stored form in a list of its own."""
    builder = DocumentBuilder("otx", ingested_at=INGESTED, default_ttl=NINETY_DAYS)

    def tags_of(*tags: str) -> list[str]:
        observation = Observation(indicator_type=IndicatorType.IPV4, value="8.8.8.8", tags=tags)
        tag_list: list[str] = builder.fields(observation)["tags"]
        return tag_list

    first = tags_of(" mozi", "elf", "mozi", "")
    assert first == ["elf", "mozi"]
    first.append("changed by a reader")
    assert tags_of(" mozi", "elf", "mozi", "") == ["elf", "mozi"]
    assert tags_of("elf", " mozi") == ["elf", "mozi"]
    assert tags_of(" ", "") == [] == tags_of(" ", "")
    assert tags_of() == []


def test_raw_metadata_must_be_a_dict() -> None:
    with pytest.raises(ValueError, match="raw_metadata"):
        Observation(indicator_type=IndicatorType.IPV4, value="8.8.8.8", raw_metadata=[("a", 1)])  # type: ignore[arg-type]


# -- TLP labels as written -----------------------------------------------------------------


def test_observation_maps_the_label_as_written() -> None:
    observation = Observation(indicator_type=IndicatorType.IPV4, value="8.8.8.8", tlp="TLP:AMBER+STRICT")
    assert observation.tlp is TLP.AMBER_STRICT
    assert not observation.has_unknown_tlp
    assert "tlp_label" not in observation.raw_metadata


def test_unknown_label_does_not_reject_the_indicator() -> None:
    observation = Observation(
        indicator_type=IndicatorType.IPV4, value="8.8.8.8", tlp="Purple", raw_metadata={"pulse_id": "p"}
    )
    assert observation.tlp is None
    assert observation.has_unknown_tlp
    assert observation.raw_metadata == {"pulse_id": "p", "tlp_label": "Purple"}
    document = observation.to_document("otx", ingested_at=INGESTED, default_ttl=timedelta(0))
    assert document["tlp"] is None
    assert document["raw_metadata"]["tlp_label"] == "Purple"


def test_absent_label_is_not_unknown() -> None:
    observation = Observation(indicator_type=IndicatorType.IPV4, value="8.8.8.8", tlp="")
    assert observation.tlp is None
    assert not observation.has_unknown_tlp
