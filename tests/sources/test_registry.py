"""One registry: a list spec added to the specs folder reaches every consumer with no code change."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath

from threatstream.batches.retention import RetentionPolicy, apply_retention
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.merged.merge import merge, prepare_for_write
from threatstream.merged.stix import to_stix
from threatstream.naming import RESERVED_SOURCE_NAMES, STIX_EXPORT_FOLDER
from threatstream.operators.retention import retained_folders
from threatstream.pipelines.merged import build_merged_view_dag
from threatstream.pipelines.pools import pool_definitions
from threatstream.records.indicators import Observation
from threatstream.sources import SourceSpec, all_sources, get_source, scoring_defaults, scoring_policy
from threatstream.sources.registry import RegistryError
from threatstream_dev.runs import load_dagbag

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SPECS = REPO / "include" / "feeds" / "lists"
EXTRA: dict[str, Any] = {
    "name": "extra_blocklist",
    "title": "An extra blocklist",
    "base_url": "https://lists.example.net",
    "endpoint": "ips.txt",
    "format": "lines",
    "indicator_type": "IPv4",
    "schedule": "0 * * * *",
    "weight": 0.42,
    "default_confidence": 33,
}


@pytest.fixture
def specs_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped list specs, in a folder the test can add to."""
    folder = tmp_path / "lists"
    shutil.copytree(SHIPPED_SPECS, folder)
    monkeypatch.setenv("THREATSTREAM_LIST_SPECS", str(folder))
    return folder


@pytest.fixture
def extra(specs_folder: Path) -> SourceSpec:
    (specs_folder / "extra_blocklist.json").write_text(json.dumps(EXTRA))
    return get_source("extra_blocklist")


def test_every_source_has_one_spelling_of_its_airflow_names() -> None:
    for spec in all_sources():
        assert spec.dag_id == spec.pool == f"threatstream_{spec.name}"
        assert spec.conn_id == f"threatstream_{spec.name}"
        assert spec.asset.uri == f"threatstream://indicators/{spec.name}"


def test_a_new_list_spec_gets_a_dag_and_joins_the_merged_view_pools_and_scoring(extra: SourceSpec) -> None:
    assert extra.spec_file is not None
    assert extra.dag_id in load_dagbag(REPO / "dags").dag_ids
    merged_view = build_merged_view_dag()
    assert extra.asset.uri in {asset.uri for asset in merged_view.timetable.asset_condition.objects}
    assert extra.pool in pool_definitions()
    defaults = scoring_defaults()
    assert defaults["source_weights"]["extra_blocklist"] == extra.weight == 0.42
    assert defaults["default_confidence"]["extra_blocklist"] == extra.default_confidence == 33
    policy = scoring_policy()
    assert (policy.weight("extra_blocklist"), policy.confidence("extra_blocklist", None)) == (0.42, 0.33)


def test_retention_covers_a_new_list_spec_and_the_stix_bundles(extra: SourceSpec, tmp_path: Path) -> None:
    base = tmp_path / "base"
    old = time.time() - 100 * 86400
    written = []
    for folder, name in (
        (extra.storage_folder, "valid.jsonl"),
        (extra.storage_folder, "quarantine.jsonl"),
        (STIX_EXPORT_FOLDER, "bundle.json"),
        ("someone_elses", "data.json"),
    ):
        path = base / folder / "run-1" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
        os.utime(path, (old, old))
        written.append(path)
    assert {extra.storage_folder, STIX_EXPORT_FOLDER} <= set(retained_folders())
    report = apply_retention(
        ObjectStoragePath(base.as_uri()), retained_folders(), RetentionPolicy(retention_days=30)
    )
    assert report.batches_deleted == 2
    assert [path.exists() for path in written] == [False, False, False, True]  # others' files stay


def test_the_stix_export_names_a_new_list_spec_as_a_source(extra: SourceSpec) -> None:
    now = datetime.now(UTC)
    observation = Observation(indicator_type=IndicatorType.IPV4, value="94.156.8.244")
    document = observation.to_indicator(
        extra.name, ingested_at=now, default_ttl=extra.default_ttl
    ).to_document()
    merged = prepare_for_write(merge(None, document), now)
    assert merged is not None
    stix = to_stix(merged, now)
    assert stix is not None
    assert {"source_name": "threatstream:extra_blocklist"}.items() <= stix["external_references"][0].items()
    assert [entry["source"] for entry in stix["x_threatstream_sources"]] == ["extra_blocklist"]


@pytest.mark.parametrize("name", ["urlhaus", *sorted(RESERVED_SOURCE_NAMES)])
def test_a_list_spec_may_not_take_a_name_in_use(specs_folder: Path, name: str) -> None:
    (specs_folder / f"{name}.json").write_text(json.dumps({**EXTRA, "name": name}))
    with pytest.raises(RegistryError, match=name):
        all_sources()


def test_removing_a_spec_file_removes_the_source(extra: SourceSpec) -> None:
    assert extra.spec_file is not None
    extra.spec_file.unlink()
    with pytest.raises(KeyError, match="extra_blocklist"):
        get_source("extra_blocklist")


def test_the_registry_is_read_once_while_nothing_changes(specs_folder: Path) -> None:
    assert all_sources() is all_sources()
    assert len({spec.name for spec in all_sources()}) == len(all_sources())
    assert timedelta(0) < min(spec.default_ttl for spec in all_sources())
