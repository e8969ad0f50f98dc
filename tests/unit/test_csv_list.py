"""Declarative list feeds: spec validation, CSV and line parsing, the example ThreatFox CSV spec."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from source_batches import FEEDS, fixture_page, ingest

from threatstream.canonical import InvalidIndicator
from threatstream.hooks.feed import FetchedPage
from threatstream.sources import get_source
from threatstream.sources.csv_list import (
    ListSpec,
    ListSpecError,
    list_sources,
    load_spec,
    parse_list_record,
    split_list,
    to_source,
)
from threatstream.vocabulary import TLP, IndicatorType

EXAMPLE = FEEDS / "lists" / "threatfox_csv.json"
MINIMAL: dict[str, Any] = {
    "name": "blocklist",
    "title": "A blocklist",
    "base_url": "https://lists.example.net",
    "endpoint": "ips.txt",
    "format": "lines",
    "indicator_type": "IPv4",
    "schedule": "0 * * * *",
}


def test_the_example_spec_ingests_the_threatfox_export() -> None:
    source = to_source(load_spec(EXAMPLE))
    assert get_source("threatfox_csv").dag_id == "threatstream_threatfox_csv"
    batch = ingest(source, fixture_page("threatfox_csv", "recent.csv"))
    assert batch.records == 30  # comments, the commented header and the trailer are skipped
    assert batch.rejects == {"malformed_row": 1, "non_global_ip": 1, "invalid_hash": 1}
    assert len(batch.indicators) == 26  # 30 - 3 rejects - 1 repeated IOC
    values = batch.by_value()
    mirai = values["2a02:cf40:1::5"]
    assert mirai.indicator_type is IndicatorType.IPV6  # "IPv4" in the map: typed by the address
    assert mirai.raw_metadata["port"] == "40669"
    assert mirai.confidence == 75
    assert mirai.tlp is TLP.CLEAR
    assert mirai.first_seen == datetime(2026, 11, 28, 8, 55, 41, tzinfo=UTC)
    assert mirai.last_seen is None  # "None"
    beacon = values["2a01:4f8:c0c:7b0e::1"]
    assert beacon.tags == ["CobaltStrike", "c2"]
    assert beacon.raw_metadata["malware_alias"] == "Agentemis,BEACON,CobaltStrike,cobeacon"
    assert beacon.raw_metadata["reference"] is None
    assert Counter(i.indicator_type for i in batch.indicators.values())[IndicatorType.DOMAIN] == 5


def test_a_lines_feed_with_a_regex_and_a_header_row_csv() -> None:
    spec = ListSpec.model_validate(
        {**MINIMAL, "value": {"regex": r"^(?P<value>\S+)\s*;\s*(?P<sbl>SBL\d+)$"}, "comment_prefix": ";"}
    )
    body = b"; Spamhaus-style list\n1.10.16.0 ; SBL256894\n\nnot an entry\n5.188.10.0 ; SBL402741\n"
    records = split_list(spec, FetchedPage(body))
    assert [r["line"] for r in records] == [2, 4, 5]
    first = parse_list_record(spec, records[0])
    assert (first.value, first.raw_metadata) == ("1.10.16.0", {"line": 2, "sbl": "SBL256894"})
    with pytest.raises(InvalidIndicator) as caught:
        parse_list_record(spec, records[1])
    assert caught.value.reason == "no_match"

    csv_spec = ListSpec.model_validate(
        {
            **MINIMAL,
            "format": "csv",
            "value": {"column": "dst_ip"},
            "first_seen": {"column": "first_seen_utc"},
            "tags": {"column": "malware"},
            "metadata_columns": ["dst_port", 5],
        }
    )
    body = (
        b'# Feodo Tracker Botnet C2 IP Blocklist (CSV)\n"first_seen_utc","dst_ip","dst_port","c2_status",'
        b'"last_online","malware"\n'
        b'"2025-12-30 13:56:31","50.16.16.211","443","online","2026-03-12","QakBot"\n'
    )
    (record,) = split_list(csv_spec, FetchedPage(body))
    observation = parse_list_record(csv_spec, record)
    assert (observation.value, observation.tags) == ("50.16.16.211", ("QakBot",))
    assert observation.raw_metadata == {"line": 3, "dst_port": "443", "5": "QakBot"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"indicator_type": None}, "exactly one of"),
        ({"type_column": "t"}, "exactly one of"),
        ({"indicator_type": "IPv5"}, "indicator_type"),
        ({"value": {"regex": "(unclosed"}}, "bad regex"),
        ({"value": {"column": "ip"}}, "no columns"),
        ({"format": "csv"}, "value.column"),
        ({"schedule": "hourly"}, "schedule"),
        ({"name": "Bad Name"}, "name"),
        ({"ttl_days": 0}, "ttl_days"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_specs_fail_with_the_file_and_the_reason(
    tmp_path: Path, change: dict[str, Any], problem: str
) -> None:
    spec = {k: v for k, v in {**MINIMAL, **change}.items() if v is not None}
    path = tmp_path / "blocklist.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(ListSpecError, match=problem) as caught:
        load_spec(path)
    assert str(path) in str(caught.value)


def test_spec_names_must_match_the_file_and_not_shadow_built_in_sources(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps(MINIMAL))
    with pytest.raises(ListSpecError, match="file name"):
        list_sources(tmp_path)
    (tmp_path / "other.json").unlink()
    (tmp_path / "urlhaus.json").write_text(json.dumps({**MINIMAL, "name": "urlhaus"}))
    with pytest.raises(ListSpecError, match="built-in"):
        list_sources(tmp_path)
    (tmp_path / "urlhaus.json").write_text("{not json")
    with pytest.raises(ListSpecError, match="cannot read"):
        list_sources(tmp_path)


def test_the_hook_class_carries_the_spec_transport() -> None:
    source = get_source("threatfox_csv")
    hook_class: Any = source.hook_class
    assert (hook_class.default_conn_name, hook_class.endpoint) == (
        "threatstream_threatfox_csv",
        "export/csv/recent/",
    )
    assert (hook_class.auth_header, hook_class.key_required) == ("Auth-Key", False)
    with pytest.raises(KeyError, match="threatfox_csv"):
        get_source("no_such_feed")
