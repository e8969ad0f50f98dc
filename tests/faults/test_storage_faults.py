"""Batch URIs come from XCom, asset events and run params: only the storage base may be read.

The merged view, validate and upsert open the URIs they are given through
:func:`threatstream.batches.storage.open_path`, which refuses any place outside the configured
storage base before opening it; a file inside it that is not a batch (a line that never
ends) is refused too, in bounded memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from threatstream.batches.storage import default_storage_base, open_path, read_json_lines, read_lines
from threatstream.exceptions import BatchFormatError, StoragePathError
from threatstream_dev.memory import python_peak
from threatstream_dev.runs import RunOutcome, load_dagbag, run_outcome

FaultCase = Callable[[str, str, str], None]
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
BASE = "abfs://batches/threatstream/"


def _base_dir() -> Path:
    return Path(default_storage_base().removeprefix("file://"))


@pytest.mark.parametrize(
    ("uri", "what"),
    [
        ("file:///etc/passwd", "a system file"),
        ("file:///dev/zero", "a device that never ends"),
        ("{base}/../../../../etc/passwd", "'..' out of the base"),
        ("{base}/otx/../../elsewhere/valid.jsonl", "'..' into a sibling of the base"),
        ("{base}", "the base itself"),
        ("/etc/passwd", "a bare path"),
        ("http://127.0.0.1:1/valid.jsonl", "another protocol"),
    ],
)
def test_a_uri_outside_the_local_base_is_refused_before_it_is_opened(
    uri: str, what: str, fault_case: FaultCase
) -> None:
    target = uri.replace("{base}", default_storage_base().rstrip("/"))
    with pytest.raises(StoragePathError, match=r"outside the storage base|cannot be parsed"):
        open_path(target)
    fault_case(f"batch URI: {what}", "StoragePathError before opening, no retry", "refused")


def test_a_symlink_out_of_the_base_is_refused(tmp_path: Path, fault_case: FaultCase) -> None:
    outside = Path("/etc/hostname") if Path("/etc/hostname").exists() else Path("/etc/passwd")
    link = _base_dir() / "otx" / "run-symlink" / "valid.jsonl"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    with pytest.raises(StoragePathError):
        open_path(link.as_uri())
    fault_case("batch URI: a symlink inside the base to /etc", "StoragePathError, no retry", "refused")


def test_a_uri_inside_the_base_is_opened_normalised(tmp_path: Path) -> None:
    batch = tmp_path / "otx" / "valid.jsonl"
    batch.parent.mkdir(parents=True)
    batch.write_text('{"id": "a"}\n', encoding="utf-8")
    detour = f"{batch.parent.as_uri()}/../otx/./valid.jsonl"
    assert [doc["id"] for doc in read_json_lines(open_path(detour))] == ["a"]


@pytest.mark.parametrize(
    ("uri", "conn_id", "what"),
    [
        ("abfs://other/threatstream/otx/valid.jsonl", None, "another container"),
        ("abfs://batches/elsewhere/valid.jsonl", None, "another prefix of the container"),
        ("abfs://batches/threatstream/otx/../../x/valid.jsonl", None, "'..' out of the prefix"),
        ("abfs://batches/threatstream/otx/valid.jsonl", "attacker_storage", "another connection"),
        ("abfs://attacker_storage@batches/threatstream/otx/valid.jsonl", None, "a connection in the URI"),
        ("abfss://batches/threatstream/otx/valid.jsonl", None, "another protocol"),
    ],
)
def test_a_uri_outside_an_object_store_base_is_refused(
    uri: str, conn_id: str | None, what: str, fault_case: FaultCase
) -> None:
    with pytest.raises(StoragePathError):
        open_path(uri, conn_id, base=BASE, base_conn_id="threatstream_storage")
    fault_case(f"batch URI on abfs: {what}", "StoragePathError before opening, no retry", "refused")


def test_an_object_store_uri_inside_the_base_keeps_its_connection() -> None:
    path = open_path(
        "abfs://batches/threatstream/otx/run/./valid.jsonl", base=BASE, base_conn_id="threatstream_storage"
    )
    assert (str(path.path), path.conn_id) == (
        "batches/threatstream/otx/run/valid.jsonl",
        "threatstream_storage",
    )


def test_a_line_that_never_ends_is_refused_in_bounded_memory(tmp_path: Path, fault_case: FaultCase) -> None:
    endless = tmp_path / "valid.jsonl"
    with endless.open("wb") as handle:
        for _ in range(40):
            handle.write(b"x" * (1 << 20))  # 40 MiB without a line end
    with python_peak() as measured, pytest.raises(BatchFormatError, match="line longer than"):
        for _ in read_lines(open_path(endless.as_uri()), max_line_bytes=4 << 20):
            pass
    peak = measured[0]
    assert peak < 32 << 20
    fault_case(
        "batch file: 40 MiB without a line end",
        "BatchFormatError at the line bound, memory bounded",
        f"refused, Python peak {peak / (1 << 20):.1f} MiB",
    )


@pytest.mark.dagrun
@pytest.mark.parametrize("target", ["file:///etc/passwd", "planted"], ids=["system-file", "planted-outside"])
def test_dag_merged_view_refuses_batches_outside_the_base(
    target: str, airflow_db: Any, cosmos_database: str, fault_case: FaultCase
) -> None:
    from threatstream.store.merged import MergedViewHook

    planted_value = "203.0.113.66"
    if target == "planted":
        folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"planted-{os.getpid()}"
        folder.mkdir(parents=True, exist_ok=True)
        batch = folder / "valid.jsonl"
        document = {"id": "planted", "indicator_type": "IPv4", "indicator_value": planted_value}
        batch.write_text(json.dumps(document) + "\n", encoding="utf-8")
        target = batch.as_uri()
    dag = load_dagbag(DAGS_FOLDER).dags["threatstream_merged_view"]
    dag_run = dag.test(run_conf={"batches": [{"valid_uri": target}]})
    outcome: RunOutcome | None = run_outcome(dag.dag_id, dag_run.run_id)
    assert outcome is not None
    assert outcome.state == "failed"
    assert outcome.tries["merge"] == 1  # refused, not retried
    assert MergedViewHook().read_merged("IPv4", planted_value)[0] is None
    named = "/etc/passwd" if "etc" in target else "a batch planted outside the base"
    fault_case(
        f"DAG merged_view: params.batches names {named}",
        "merge red after one try; nothing read, nothing merged",
        "red, 1 try, the view unchanged",
    )
