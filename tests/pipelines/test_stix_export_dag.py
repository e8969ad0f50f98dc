"""The STIX 2.1 export end to end: merged view in the local Cosmos server -> bundle -> stix2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from threatstream.canonical.vocabulary import TLP, TLP2_MARKING_IDS, IndicatorType
from threatstream.merged.stix import escape_pattern_string, pattern_for
from threatstream.records.indicators import Observation
from threatstream.sources import scoring_policy
from threatstream.store.merged import MergedViewHook
from threatstream_dev.runs import RunOutcome, load_dagbag, run_outcome

pytestmark = pytest.mark.dagrun

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "threatstream_stix_export"
NOW = datetime.now(UTC).replace(microsecond=0)
SHA256 = "0" * 63 + "a"
TRICKY_URL = "http://evil.example/it's%2Fa\\b"
YARA_RULE = 'rule evil { strings: $a = "it\'s" condition: $a }'


def observation(kind: IndicatorType, value: str, **fields: Any) -> Observation:
    return Observation(indicator_type=kind, value=value, **fields)


@pytest.fixture
def merged_view(cosmos_database: str) -> MergedViewHook:
    hook = MergedViewHook(policy=scoring_policy())
    reports = [
        ("otx", observation(IndicatorType.IPV4, "94.156.8.244", tlp=TLP.GREEN, tags=("botnet",))),
        ("abuseipdb", observation(IndicatorType.IPV4, "94.156.8.244", confidence=100)),
        ("urlhaus", observation(IndicatorType.URL, TRICKY_URL, tlp=TLP.CLEAR, tags=("exe",))),
        ("otx", observation(IndicatorType.DOMAIN, "evil.example", tlp=TLP.AMBER_STRICT)),
        ("otx", observation(IndicatorType.FILEHASH_SHA256, SHA256)),
        ("otx", observation(IndicatorType.CVE, "cve-2024-3400")),
        ("otx", observation(IndicatorType.YARA, YARA_RULE)),
        ("otx", observation(IndicatorType.JA3, "d41d8cd98f00b204e9800998ecf8427e")),
    ]
    documents = [
        item.to_indicator(
            source, ingested_at=NOW - timedelta(hours=1), default_ttl=timedelta(days=7)
        ).to_document()
        for source, item in reports
    ]
    assert hook.merge_documents(documents).failed == 0
    return hook


def run_export(airflow_db: Path, **kwargs: Any) -> RunOutcome:
    dag = load_dagbag(DAGS_FOLDER).dags[DAG_ID]
    dag_run = dag.test(**kwargs)
    outcome = run_outcome(DAG_ID, dag_run.run_id)
    assert outcome is not None
    return outcome


def test_pattern_strings_are_escaped() -> None:
    assert escape_pattern_string("a'b\\c") == "'a\\'b\\\\c'"
    assert pattern_for("URL", "http://x/'") == ("[url:value = 'http://x/\\'']", "stix")
    assert pattern_for("CIDR", "2001:db8::/32") == ("[ipv6-addr:value = '2001:db8::/32']", "stix")
    assert pattern_for("FileHash-SHA1", "a" * 40) == ("[file:hashes.'SHA-1' = '" + "a" * 40 + "']", "stix")
    assert pattern_for("YARA", "rule x { condition: true }") == ("rule x { condition: true }", "yara")
    assert pattern_for("JA3", "0" * 32) is None


def test_export_parses_with_stix2(airflow_db: Path, merged_view: MergedViewHook) -> None:
    import stix2

    since = NOW - timedelta(minutes=5)
    outcome = run_export(
        airflow_db,
        run_conf={
            "since": since.isoformat(),
            "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        },
    )
    assert outcome.succeeded
    result = outcome.results["export"]
    assert (result["documents"], result["indicators"], result["vulnerabilities"]) == (7, 5, 1)
    assert result["skipped"] == {"JA3": 1}
    assert result["markings"] == 3

    text = Path(result["uri"].removeprefix("file://")).read_text(encoding="utf-8")
    assert len(text.encode()) == result["bytes"]
    bundle = stix2.parse(text, allow_custom=True)
    objects = {obj.id: obj for obj in bundle.objects}
    by_type: dict[str, list[Any]] = {}
    for obj in bundle.objects:
        by_type.setdefault(obj.type, []).append(obj)
    assert len(by_type["identity"]) == 1
    assert {m.id for m in by_type["marking-definition"]} == {
        TLP2_MARKING_IDS[label] for label in ("clear", "green", "amber+strict")
    }
    indicators = {obj.name: obj for obj in by_type["indicator"]}
    ip = indicators["IPv4 94.156.8.244"]
    assert ip.pattern == "[ipv4-addr:value = '94.156.8.244']"
    assert ip.object_marking_refs == [TLP2_MARKING_IDS["green"]]
    assert ip.labels == ["botnet"]
    assert ip.confidence == round(ip.x_threatstream_score)
    assert [s["source"] for s in ip.x_threatstream_sources] == ["abuseipdb", "otx"]
    assert {ref.source_name for ref in ip.external_references} == {
        "threatstream:abuseipdb",
        "threatstream:otx",
    }
    assert ip.valid_until > ip.valid_from
    assert ip.created_by_ref in objects

    url = indicators[f"URL {TRICKY_URL}"]
    assert url.pattern == "[url:value = 'http://evil.example/it\\'s%2Fa\\\\b']"
    assert indicators[f"YARA {YARA_RULE}"].pattern_type == "yara"
    assert indicators[f"FileHash-SHA256 {SHA256}"].pattern == f"[file:hashes.'SHA-256' = '{SHA256}']"
    (cve,) = by_type["vulnerability"]
    assert cve.name == "CVE-2024-3400"
    assert cve.external_references[0].external_id == "CVE-2024-3400"

    # Exporting again gives the same ids: consumers update objects rather than duplicate them.
    again = run_export(airflow_db, run_conf={"since": since.isoformat(), "until": result["until"]})
    second = json.loads(Path(again.results["export"]["uri"].removeprefix("file://")).read_text())
    assert {obj["id"] for obj in second["objects"]} == set(objects)


def test_default_window_is_the_data_interval(airflow_db: Path, merged_view: MergedViewHook) -> None:
    # A manual run for a logical date covers the hour ending then.
    hour_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    current = run_export(airflow_db, logical_date=hour_end)
    assert current.succeeded
    assert current.results["export"]["since"] == (hour_end - timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000000Z"
    )
    assert current.results["export"]["documents"] == 7
    earlier = run_export(airflow_db, logical_date=hour_end - timedelta(hours=1))
    assert earlier.succeeded
    assert earlier.results["export"]["documents"] == 0  # nothing changed in the hour before


def test_a_bad_window_fails_without_retries(airflow_db: Path, merged_view: MergedViewHook) -> None:
    outcome = run_export(airflow_db, run_conf={"since": NOW.isoformat(), "until": NOW.isoformat()})
    assert outcome.state == "failed"
    assert outcome.tries["export"] == 1


def plant_unmappable(hook: MergedViewHook, value: str = "203.0.113.77", drop: str = "first_seen") -> str:
    """A merged document, as the view stores it, lacking ``drop``; returns its id."""
    document, _ = hook.read_merged("IPv4", "94.156.8.244")
    assert document is not None
    broken = {key: item for key, item in document.items() if not key.startswith("_")}
    broken["id"] = f"IPv4:unmappable-{value}"
    broken["indicator_value"] = value
    del broken[drop]
    hook.get_container().upsert_item(broken)
    return str(broken["id"])


def test_an_unmappable_document_is_skipped_and_reported(
    airflow_db: Path, merged_view: MergedViewHook
) -> None:
    import stix2

    broken_id = plant_unmappable(merged_view)
    outcome = run_export(
        airflow_db,
        run_conf={
            "since": (NOW - timedelta(minutes=5)).isoformat(),
            "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        },
    )
    assert outcome.succeeded, outcome
    result = outcome.results["export"]
    assert (result["documents"], result["indicators"], result["vulnerabilities"]) == (8, 5, 1)
    assert result["unmappable"] == 1
    assert result["skipped"] == {"JA3": 1}
    (example,) = result["unmappable_examples"]
    assert example["id"] == broken_id
    assert "first_seen" in example["reason"]

    bundle_file = Path(result["uri"].removeprefix("file://"))
    bundle = stix2.parse(bundle_file.read_text(encoding="utf-8"), allow_custom=True)
    names = {obj.name for obj in bundle.objects if obj.type == "indicator"}
    assert "IPv4 94.156.8.244" in names
    assert "IPv4 203.0.113.77" not in names
    # Only the published bundle is left in the run's folder: no temporary file.
    assert [item.name for item in bundle_file.parent.iterdir()] == ["bundle.json"]
