"""A large blacklist goes from the socket to storage and back into records with flat memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from airflow.sdk import ObjectStoragePath

from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.operators.fetch import _store_page
from threatstream.operators.validate import _read_page
from threatstream.records.results import StoredPage
from threatstream.sources import get_source
from threatstream.sources.abuseipdb import AbuseIPDBHook
from threatstream_dev.hostile_feed import HostileFeedServer, file_body

pytestmark = pytest.mark.replay

_T = TypeVar("_T")

ROWS = 200_000
MIB = 1 << 20


@pytest.fixture(scope="module")
def blacklist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200,000-row blacklist (about 25 MB) in the real response's shape."""
    path = tmp_path_factory.mktemp("feed") / "blacklist.json"
    row = (
        '{"ipAddress": "8.8.%d.%d", "countryCode": "US", "abuseConfidenceScore": 100, '
        '"lastReportedAt": "2026-11-28T08:14:00+00:00"}'
    )
    with path.open("w") as out:
        out.write('{"meta": {"generatedAt": "2026-11-28T12:00:00+00:00"}, "data": [')
        out.write(",".join(row % (n // 256 % 256, n % 256) for n in range(ROWS)))
        out.write("]}")
    return path


def _traced_peak(run: Callable[[], _T]) -> tuple[_T, int]:
    """``run()``'s result and peak traced memory, after an untraced first run: imports and
    set-up done once per process (modules are compiled on import when no bytecode is cached)
    are not what the body's size costs."""
    run()
    tracemalloc.start()
    try:
        result = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture
def server(blacklist: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileFeedServer]:
    with HostileFeedServer() as server:
        server.route("/api/v2/blacklist", file_body(blacklist))
        monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_ABUSEIPDB", server.connection_json("abuseipdb"))
        yield server


def test_fetch_streams_the_list_to_storage_with_flat_memory(
    server: HostileFeedServer, blacklist: Path, tmp_path: Path
) -> None:
    hook = AbuseIPDBHook(max_attempts=1)
    path = ObjectStoragePath(tmp_path.as_uri()) / "page-00001.json"

    def fetch() -> StoredPage:
        (page,) = hook.iter_pages(FetchWindow(), limit=ROWS)
        return _store_page(get_source("abuseipdb"), page, path, 0, ROWS)

    try:
        stored, peak = _traced_peak(fetch)
    finally:
        hook.close()
    body = blacklist.read_bytes()
    assert (stored.records, stored.bytes) == (ROWS, len(body))
    assert stored.sha256 == hashlib.sha256(body).hexdigest()
    assert stored.context["generated_at"] == "2026-11-28T12:00:00+00:00"
    assert Path(tmp_path / "page-00001.json").read_bytes() == body
    assert len(server.requests()) == 2  # the untraced first run and the measured one
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB for a {len(body) / MIB:.0f} MiB body"


def test_validate_reads_the_stored_page_as_a_stream(blacklist: Path) -> None:
    body = blacklist.read_bytes()
    stored = StoredPage(
        uri=blacklist.as_uri(), bytes=len(body), records=ROWS, sha256=hashlib.sha256(body).hexdigest()
    )
    del body

    def validate_reads() -> int:
        reader = _read_page(stored, None)
        return sum(1 for _ in reader.verified(get_source("abuseipdb").split_records(FetchedPage(reader))))

    count, peak = _traced_peak(validate_reads)
    assert count == ROWS
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB"


def test_validate_notices_a_page_changed_after_fetch(blacklist: Path) -> None:
    from threatstream.exceptions import BatchIntegrityError

    stored = StoredPage(uri=blacklist.as_uri(), bytes=0, records=ROWS, sha256="0" * 64)
    reader = _read_page(stored, None)
    with pytest.raises(BatchIntegrityError, match="changed since it was fetched"):
        sum(1 for _ in reader.verified(get_source("abuseipdb").split_records(FetchedPage(reader))))
