"""Declarative list feeds: spec validation, CSV and line parsing, the example ThreatFox CSV spec."""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from source_batches import FEEDS, fixture_page, ingest
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.sources import get_source
from threatstream.sources.lists import ListSpec, ListSpecError, list_sources, to_source
from threatstream.sources.lists.parse import parse_list_record
from threatstream.sources.lists.reader import split_list
from threatstream.sources.lists.spec import load_spec

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
    assert beacon.tags == ["Cobalt Strike", "CobaltStrike", "c2"]  # the family, as ThreatFox JSON
    assert beacon.raw_metadata["malware_alias"] == "Agentemis,BEACON,CobaltStrike,cobeacon"
    assert beacon.raw_metadata["reference"] is None
    assert Counter(i.indicator_type for i in batch.indicators.values())[IndicatorType.DOMAIN] == 5


def test_a_lines_feed_with_a_regex_and_a_header_row_csv() -> None:
    spec = ListSpec.model_validate(
        {**MINIMAL, "value": {"regex": r"^(?P<value>\S+)\s*;\s*(?P<sbl>SBL\d+)$"}, "comment_prefix": ";"}
    )
    body = b"; Spamhaus-style list\n1.10.16.0 ; SBL256894\n\nnot an entry\n5.188.10.0 ; SBL402741\n"
    records = list(split_list(spec, FetchedPage(body)))
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
        ({"value": {"regex": r"^(?P<value>\w+)\1$"}}, r"value\.regex: .*backreferences"),
        ({"value": {"regex": r"^(?P<value>\w+)(?=;)"}}, r"value\.regex: .*lookahead"),
        ({"value": {"regex": r"(?<=ip=)(?P<value>\S+)"}}, r"value\.regex: .*lookbehind"),
        ({"max_record_bytes": 2048, "max_line_bytes": 1024}, "max_line_bytes"),
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


def test_spec_names_must_match_the_file(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps(MINIMAL))
    with pytest.raises(ListSpecError, match="file name"):
        list_sources(tmp_path)
    (tmp_path / "other.json").unlink()
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


class _Trickle(io.RawIOBase):
    """A body that arrives ``size`` bytes per read, as a slow socket delivers it."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self._at = data, size, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        piece = self._data[self._at : self._at + min(self._size, size if size >= 0 else self._size)]
        self._at += len(piece)
        return piece


def _csv_spec(**change: Any) -> ListSpec:
    return ListSpec.model_validate(
        {**MINIMAL, "format": "csv", "value": {"column": "ip"}, "metadata_columns": ["note"], **change}
    )


def _records(spec: ListSpec, body: bytes, chunk: int | None = None) -> list[dict[str, Any]]:
    page = FetchedPage(_Trickle(body, chunk) if chunk else body)
    return [dict(record) for record in split_list(spec, page)]


CSV_BODY = (
    b"# a comment\r\nip,note\r\n"
    b'1.10.16.1,"two\r\nlines, and a comma"\r\n'
    b'1.10.16.2,"# not a comment\n\nand a blank line"\r'
    b"1.10.16.3,plain\r\n\r\n"
    b"1.10.16.4,last without a line end"
)


@pytest.mark.parametrize("chunk", [None, 1, 2, 3, 7])
def test_csv_records_are_read_as_csv_whatever_the_line_ends_and_chunks(chunk: int | None) -> None:
    records = _records(_csv_spec(), CSV_BODY, chunk)
    assert records == [
        {"line": 3, "fields": {"ip": "1.10.16.1", "note": "two\r\nlines, and a comma"}},
        {"line": 5, "fields": {"ip": "1.10.16.2", "note": "# not a comment\n\nand a blank line"}},
        {"line": 8, "fields": {"ip": "1.10.16.3", "note": "plain"}},
        {"line": 10, "fields": {"ip": "1.10.16.4", "note": "last without a line end"}},
    ]


@pytest.mark.parametrize("chunk", [None, 1, 5])
def test_a_byte_order_mark_is_dropped(chunk: int | None) -> None:
    bom = "\ufeff".encode()
    records = _records(_csv_spec(), bom + b"ip,note\n45.77.14.1,x\n", chunk)
    assert records == [{"line": 2, "fields": {"ip": "45.77.14.1", "note": "x"}}]
    lines = _records(ListSpec.model_validate(MINIMAL), bom + b"45.77.14.1\n45.77.14.2\n", chunk)
    assert [r["text"] for r in lines] == ["45.77.14.1", "45.77.14.2"]
    assert parse_list_record(ListSpec.model_validate(MINIMAL), lines[0]).value == "45.77.14.1"


@pytest.mark.parametrize("chunk", [None, 1000, 4096])
def test_an_oversized_record_is_quarantined_alone_with_its_head(chunk: int | None) -> None:
    spec = _csv_spec(max_record_bytes=4096, max_line_bytes=64 * 1024)
    huge = b"A" * 20_000
    body = (
        b"ip,note\n1.10.16.1,a\n1.10.16.2," + huge + b"\n"
        b'1.10.16.3,"quoted\n' + huge + b'\nstill quoted"\n1.10.16.4,d\n'
    )
    records = _records(spec, body, chunk)
    assert [r["line"] for r in records] == [2, 3, 4, 7]
    assert [r.get("reason") for r in records] == [None, "record_too_large", "record_too_large", None]
    assert records[1]["text"] == "1.10.16.2," + "A" * 1014  # its first 1024 characters
    assert records[1]["bytes"] == len(huge) + 11
    assert records[3]["fields"] == {"ip": "1.10.16.4", "note": "d"}
    with pytest.raises(InvalidIndicator) as caught:
        parse_list_record(spec, records[1])
    assert caught.value.reason == "record_too_large"


def test_a_line_beyond_max_line_bytes_is_a_format_error() -> None:
    spec = _csv_spec(max_record_bytes=4096, max_line_bytes=64 * 1024)
    with pytest.raises(FeedFormatError, match="line 2 is longer than max_line_bytes=65536"):
        _records(spec, b"ip,note\n1.10.16.1," + b"A" * 100_000, 4096)
    with pytest.raises(FeedFormatError, match="quoted record from line 2"):
        _records(spec, b'ip,note\n1.10.16.1,"an unclosed quote\n' + b"1.10.16.9,x\n" * 10_000)


def test_regexes_run_in_linear_time() -> None:
    spec = ListSpec.model_validate({**MINIMAL, "indicator_type": "domain",
                                    "value": {"regex": r"^(?P<value>([a-z0-9-]+\.?)+)$"}})  # fmt: skip
    records = _records(spec, b"evil.example.net\n" + b"a" * 5000 + b"!\n")
    started = time.monotonic()
    assert parse_list_record(spec, records[0]).value == "evil.example.net"
    with pytest.raises(InvalidIndicator, match="does not match"):
        parse_list_record(spec, records[1])
    assert time.monotonic() - started < 1


def test_tags_from_several_columns() -> None:
    spec = _csv_spec(
        metadata_columns=[],
        columns=["ip", "tags", "family", "note"],
        tags=[
            {"column": "tags", "separator": "|"},
            {"column": "family", "separator": "", "exclude": ["Unknown malware"]},
            {"column": "note", "regex": r"tag=(?P<value>\w+)"},
        ],
        tags_separator=";",
    )
    body = b'1.10.16.1,a| b,"Cobalt Strike, old",tag=x\n1.10.16.2,None,Unknown malware,\n'
    first, second = (parse_list_record(spec, r) for r in _records(spec, body))
    assert first.tags == ("a", "b", "Cobalt Strike, old", "x")
    assert second.tags == ()


def test_threatfox_csv_and_json_give_the_same_facts_for_the_same_ioc() -> None:
    from threatstream.sources.threatfox import THREATFOX

    from_csv = ingest(get_source("threatfox_csv"), fixture_page("threatfox_csv", "recent.csv")).by_value()
    from_json = ingest(THREATFOX, fixture_page("threatfox", "get_iocs.json")).by_value()
    common = sorted(set(from_csv) & set(from_json))
    assert len(common) >= 20
    assert "RedLine Stealer" in from_csv["http://steamcommunity-gift.ru:8080/claim?id=42"].tags
    for value in common:
        csv_ioc, json_ioc = from_csv[value], from_json[value]
        assert (csv_ioc.tags, csv_ioc.indicator_type, csv_ioc.confidence) == (
            json_ioc.tags,
            json_ioc.indicator_type,
            json_ioc.confidence,
        ), value
        assert (csv_ioc.first_seen, csv_ioc.last_seen) == (json_ioc.first_seen, json_ioc.last_seen), value
