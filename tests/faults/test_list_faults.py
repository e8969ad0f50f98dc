"""Hostile and broken list feeds (declarative CSV and plain lists) against the real list hook,
the real fetch (stream to storage, records counted) and the real validate.

Each list is served over HTTP on 127.0.0.1 by :mod:`threatstream_dev.hostile_feed`; each test
records its row for ``docs/reliability.md`` with ``fault_case``.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.batches.storage import open_path
from threatstream.exceptions import FeedFormatError, FeedTooLargeError
from threatstream.feeds.pages import FetchWindow
from threatstream.operators.fetch import _store_page
from threatstream.records.results import StoredPage, ValidateResult
from threatstream.sources import get_source
from threatstream.sources.base import SourceSpec
from threatstream.sources.lists import ListSpec, to_source
from threatstream.sources.threatfox import THREATFOX
from threatstream_dev.batches import validate_stored
from threatstream_dev.feed_replay import TEST_KEYS
from threatstream_dev.hostile_feed import HostileFeedServer, file_body, raw_body
from threatstream_dev.memory import python_peak
from threatstream_dev.runs import RunOutcome, run_dag_file

pytestmark = pytest.mark.replay

#: The ``fault_case`` fixture of ``tests/faults/conftest.py``.
FaultCase = Callable[[str, str, str], None]

MIB = 1 << 20
FEEDS = Path(__file__).resolve().parents[2] / "include" / "feeds"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
THREATFOX_CSV = "/export/csv/recent/"
WINDOW = FetchWindow(datetime(2026, 11, 28, 11, tzinfo=UTC), datetime(2026, 11, 28, 12, tzinfo=UTC))
INGESTED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BOM = "\ufeff".encode()
LIST: dict[str, Any] = {
    "name": "hostile_list",
    "title": "A hostile list",
    "base_url": "https://lists.example.net",
    "endpoint": "list.txt",
    "format": "lines",
    "indicator_type": "IPv4",
    "schedule": "0 * * * *",
}
#: A row of the ThreatFox CSV export (15 columns); ``{value}`` and ``{reference}`` vary.
TF_ROW = (
    '"2026-11-28 09:12:05", "1659{n:03d}", "{value}", "domain", "botnet_cc", "win.asyncrat", "None", '
    '"AsyncRAT", "None", "100", "0", "{reference}", "AsyncRAT,RAT", "0", "abuse_ch"\n'
)


def _threatfox_rows(count: int, reference: str = "None") -> str:
    return "".join(TF_ROW.format(n=n, value=f"c2-{n}.example.net", reference=reference) for n in range(count))


def _connect(monkeypatch: pytest.MonkeyPatch, server: HostileFeedServer, name: str, **extra: Any) -> None:
    key = TEST_KEYS.get(name, "")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_THREATSTREAM_{name.upper()}", server.connection_json(name, key=key, extra=extra)
    )


def _list_source(**change: Any) -> SourceSpec:
    return to_source(ListSpec.model_validate({**LIST, **change}))


def _fetch(source: SourceSpec, folder: Path) -> StoredPage:
    """The real fetch of a one-page source: the page streamed to ``folder``, its records counted
    as it passes, transient failures retried inside the try."""
    folder.mkdir(parents=True, exist_ok=True)
    hook = source.hook_class(max_attempts=3, backoff_initial=0.01)
    try:
        limits = hook.limits
        (page,) = list(hook.iter_pages(WINDOW))
        path = open_path((folder / "page-00001.json").as_uri())
        return hook.with_retries("reading page 1", _store_page, source, page, path, 0, limits.max_records)
    finally:
        hook.close()


def _validate(source: SourceSpec, folder: Path, stored: StoredPage) -> ValidateResult:
    """The real validate over the stored page (``valid.jsonl`` and ``quarantine.jsonl`` in ``folder``)."""
    return validate_stored(
        source,
        folder,
        [stored],
        start=WINDOW.start,
        end=WINDOW.end,
        fetched_at=INGESTED,
        run_id="manual__list_faults",
    )


def _run(source: SourceSpec, folder: Path) -> tuple[StoredPage, ValidateResult]:
    stored = _fetch(source, folder)
    return stored, _validate(source, folder, stored)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _values(folder: Path) -> list[str]:
    return [document["indicator_value"] for document in _lines(folder / "valid.jsonl")]


# -- regexes ----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_backtracking_spec_regex_matches_in_linear_time(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fault_case: FaultCase
) -> None:
    source = _list_source(indicator_type="domain", value={"regex": r"^(?P<value>([a-z0-9-]+\.?)+)$"})
    _connect(monkeypatch, hostile, "hostile_list")
    attack = "".join(f"{'a' * n}!\n" for n in (27, 1000, 60_000))
    hostile.route("/list.txt", raw_body("evil.example.net\n" + attack, content_type="text/plain"))
    started = time.monotonic()
    stored, result = _run(source, tmp_path)
    elapsed = time.monotonic() - started
    assert elapsed < 10  # about 40 s for the 27 letters alone with a backtracking engine
    assert (stored.records, result.valid, result.reasons) == (4, 1, {"no_match": 3})
    assert _values(tmp_path) == ["evil.example.net"]
    fault_case(
        "list: spec regex `([a-z0-9-]+\\.?)+` vs 27, 1,000 and 60,000 letters plus `!`",
        "linear-time match (RE2): each line quarantined as no_match, the rest stored",
        f"3 quarantined (no_match), 1 valid, fetch + validate in {elapsed:.2f}s",
    )


@pytest.mark.parametrize(
    ("regex", "problem"),
    [(r"^(?P<value>\w+)\1$", "backreferences"), (r"^(?P<value>\S+)(?=;)", "lookahead")],
)
def test_a_spec_regex_re2_cannot_run_is_refused_at_load_time(
    regex: str, problem: str, tmp_path: Path, fault_case: FaultCase
) -> None:
    from threatstream.sources.lists import ListSpecError, list_sources

    path = tmp_path / "hostile_list.json"
    path.write_text(json.dumps({**LIST, "value": {"regex": regex}}), encoding="utf-8")
    with pytest.raises(ListSpecError, match=problem) as refused:
        list_sources(tmp_path)
    message = str(refused.value)
    assert str(path) in message
    assert "value.regex" in message
    fault_case(
        f"list spec: regex with {problem} `{regex}`",
        "refused when the spec is loaded (DAG import error naming file, field and problem)",
        "ListSpecError: " + message.split(": ", 1)[1].split(" (list specs", 1)[0][:90],
    )


# -- oversized cells, lines and bodies -------------------------------------------------------------


def test_an_oversized_cell_is_quarantined_alone(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fault_case: FaultCase
) -> None:
    source = get_source("threatfox_csv")
    _connect(monkeypatch, hostile, "threatfox_csv")
    huge = TF_ROW.format(n=999, value="huge.example.net", reference="https://x.example/" + "A" * 200_000)
    body = "# ThreatFox\n" + _threatfox_rows(5) + huge + _threatfox_rows(3)
    hostile.route(THREATFOX_CSV, raw_body(body, content_type="text/csv"))
    stored, result = _run(source, tmp_path)
    assert len(hostile.requests()) == 1  # not retried, not downloaded again
    assert (stored.records, result.valid, result.reasons) == (9, 5, {"record_too_large": 1})
    (entry,) = _lines(tmp_path / "quarantine.jsonl")
    assert entry["reason"] == "record_too_large"
    assert entry["record"]["line"] == 7
    assert entry["record"]["bytes"] == len(huge.encode())
    assert len(entry["record"]["text"]) == 1024
    assert "huge.example.net" in entry["record"]["text"]
    assert "huge.example.net" not in _values(tmp_path)
    fault_case(
        "list: one 200 KB cell among 9 ThreatFox CSV rows",
        "that row quarantined alone (record_too_large, first 1 KiB kept), no retry",
        f"1 request; the other 8 rows valid ({result.valid} distinct IOCs), 1 quarantined with its size",
    )


@pytest.mark.parametrize(
    ("case", "extra", "body", "error", "match"),
    [
        ("a 4 MiB line without an end", {}, "1.1.1.1\n" + "9" * (4 * MIB), FeedFormatError, "max_line_bytes"),
        (
            "a 4 MiB quoted cell (an unclosed quote)",
            {},
            '1.1.1.1,"x\n' + "2.2.2.2,y\n" * 500_000,
            FeedFormatError,
            "unclosed quote",
        ),
        ("a body beyond max_body_bytes (2 MiB)", {"max_body_bytes": 2 * MIB}, "1.1.1.1\n" * 600_000,
         FeedTooLargeError, "max_body_bytes=2097152"),
    ],
)  # fmt: skip
def test_a_line_or_body_beyond_the_bounds_fails_at_once(
    case: str,
    extra: dict[str, Any],
    body: str,
    error: type[Exception],
    match: str,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fault_case: FaultCase,
) -> None:
    csv = "quote" in case
    change = {"format": "csv", "columns": ["ip", "note"], "value": {"column": "ip"}} if csv else {}
    source = _list_source(**change)
    _connect(monkeypatch, hostile, "hostile_list", **extra)
    hostile.route("/list.txt", raw_body(body, content_type="text/plain"))
    with python_peak() as measured, pytest.raises(error, match=match):
        _fetch(source, tmp_path)
    peak = measured[0]
    assert len(hostile.requests()) == 1  # a format error: not retried
    assert peak < 16 * MIB
    fault_case(
        f"list: {case}",
        f"{error.__name__} at fetch, no retry, bounded memory",
        f"{error.__name__}, 1 request, Python peak {peak / MIB:.1f} MiB",
    )


# -- byte-order mark, multi-line cells ----------------------------------------------------------


def test_a_byte_order_mark_is_not_part_of_the_header_or_the_first_value(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "hostile_list")
    csv_source = _list_source(format="csv", value={"column": "ip"}, first_seen={"column": "seen"})
    hostile.route(
        "/list.txt", raw_body(BOM + b"ip,seen\r\n45.77.14.1,2026-11-28\r\n45.77.14.2,2026-11-27\r\n")
    )
    _, result = _run(csv_source, tmp_path / "csv")
    assert (result.valid, result.rejected) == (2, 0)
    lines_source = _list_source()
    hostile.route("/list.txt", raw_body(BOM + b"45.77.14.1\n45.77.14.2\n"))
    _, plain = _run(lines_source, tmp_path / "lines")
    assert sorted(_values(tmp_path / "lines")) == ["45.77.14.1", "45.77.14.2"]
    assert plain.rejected == 0
    fault_case(
        "list: UTF-8 byte-order mark before the CSV header / the first plain value",
        "BOM dropped: header read, every row valid; first value intact",
        f"CSV {result.valid}/2 valid, plain list {plain.valid}/2 valid, first value '45.77.14.1'",
    )


def test_a_quoted_multi_line_cell_is_one_record(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "hostile_list")
    source = _list_source(
        format="csv", indicator_type="URL", value={"column": "url"}, metadata_columns=["comment"]
    )
    body = (
        b'url,comment\n"http://evil.example.net/a","first line\n# second line\n\nthird, with a comma"\n'
        b'"http://evil.example.net/b",plain\n'
    )
    hostile.route("/list.txt", raw_body(body, content_type="text/csv"))
    stored, result = _run(source, tmp_path)
    assert (stored.records, result.valid, result.rejected) == (2, 2, 0)
    first = next(d for d in _lines(tmp_path / "valid.jsonl") if d["indicator_value"].endswith("/a"))
    assert first["raw_metadata"]["comment"] == "first line\n# second line\n\nthird, with a comma"
    fault_case(
        "list: a quoted CSV cell spanning 4 lines (one starting with #, one blank)",
        "parsed as one CSV record, the cell whole",
        "2 records, both valid, the cell's 4 lines intact",
    )


# -- the same IOC from both ThreatFox endpoints ---------------------------------------------------


def test_threatfox_csv_and_json_tag_the_same_ioc_alike(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "threatfox_csv")
    _connect(monkeypatch, hostile, "threatfox")
    hostile.route(THREATFOX_CSV, raw_body((FEEDS / "threatfox_csv" / "recent.csv").read_bytes()))
    hostile.route("/api/v1/", raw_body((FEEDS / "threatfox" / "get_iocs.json").read_bytes()))
    tags = {}
    for source in (get_source("threatfox_csv"), THREATFOX):
        folder = tmp_path / source.name
        _run(source, folder)
        tags[source.name] = {d["indicator_value"]: d["tags"] for d in _lines(folder / "valid.jsonl")}
    common = sorted(set(tags["threatfox_csv"]) & set(tags["threatfox"]))
    assert len(common) >= 20
    redline = "http://steamcommunity-gift.ru:8080/claim?id=42"
    assert tags["threatfox_csv"][redline] == tags["threatfox"][redline] == ["RedLine Stealer"]
    differing = [v for v in common if tags["threatfox_csv"][v] != tags["threatfox"][v]]
    assert differing == []
    fault_case(
        "ThreatFox: the same IOCs from the CSV export and the JSON API",
        "the same tags (the malware family included) whichever endpoint reported them",
        f"{len(common)} IOCs in both, tags equal for all (e.g. RedLine Stealer)",
    )


# -- memory -----------------------------------------------------------------------------------------


def test_a_100_mb_list_is_fetched_and_validated_in_flat_memory(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fault_case: FaultCase
) -> None:
    source = get_source("threatfox_csv")
    path = tmp_path / "recent.csv"
    reference = "https://bazaar.abuse.ch/sample/" + "f" * 900
    block = _threatfox_rows(1000, reference)
    with path.open("w", encoding="utf-8") as out:
        out.write("# ThreatFox recent\n")
        while out.tell() < 100_000_000:
            out.write(block)
    size = path.stat().st_size
    _connect(monkeypatch, hostile, "threatfox_csv", max_body_bytes=128 * MIB, timeout=120)
    hostile.route(THREATFOX_CSV, file_body(path, content_type="text/csv"))
    started = time.monotonic()
    tracemalloc.start()
    try:
        stored = _fetch(source, tmp_path / "batch")
        fetch_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        result = _validate(source, tmp_path / "batch", stored)
        validate_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    rows = stored.records
    assert stored.bytes == size
    assert rows > 90_000
    assert (result.records, result.rejected, result.valid) == (rows, 0, 1000)  # 1000 distinct IOCs repeated
    assert fetch_peak < 16 * MIB
    assert validate_peak < 40 * MIB
    fault_case(
        f"list: a {size / 1e6:.0f} MB ThreatFox CSV ({rows:,} rows) fetched and validated",
        "streamed: memory flat, independent of the body's size",
        f"Python peak fetch {fetch_peak / MIB:.1f} MiB, validate {validate_peak / MIB:.1f} MiB "
        f"({elapsed:.0f}s)",
    )


# -- a whole DAG run --------------------------------------------------------------------------------


@pytest.mark.dagrun
def test_dag_threatfox_csv_with_a_bom_and_an_oversized_cell_is_green(
    airflow_db: Any,
    cosmos_database: str,
    feed_connections: Any,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    from threatstream.store.indicators import IndicatorStoreHook

    _connect(monkeypatch, hostile, "threatfox_csv")
    huge = TF_ROW.format(n=999, value="huge.example.net", reference="https://x.example/" + "A" * 200_000)
    body = BOM + (_threatfox_rows(6) + huge).encode()
    hostile.route(THREATFOX_CSV, raw_body(body, content_type="text/csv"))
    outcome: RunOutcome = run_dag_file(str(DAGS_FOLDER), "threatstream_threatfox_csv", INGESTED, None)
    assert outcome.succeeded
    fetched, validated, _ = outcome.stages
    assert outcome.tries["fetch"] == 1
    assert len(hostile.requests()) == 1
    assert (fetched["records"], validated["valid"], validated["reasons"]) == (7, 6, {"record_too_large": 1})
    stored = sorted(d["indicator_value"] for d in IndicatorStoreHook().query("SELECT * FROM c"))
    assert stored == sorted(f"c2-{n}.example.net" for n in range(6))
    fault_case(
        "DAG threatfox_csv: BOM before the first row, one 200 KB cell",
        "green after one try: the oversized row quarantined, every other row stored",
        "green, 1 try, 1 request; 6 stored, 1 quarantined (record_too_large)",
    )
