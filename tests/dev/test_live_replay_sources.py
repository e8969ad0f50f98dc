"""Live mode of the replay server (``make airflow``) answers every registered source for today."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from threatstream.feeds.pages import FetchWindow
from threatstream.sources import all_sources
from threatstream.sources.base import SourceSpec
from threatstream_dev.feed_replay import FeedReplayServer

pytestmark = pytest.mark.replay


@pytest.fixture(scope="module")
def live() -> Iterator[FeedReplayServer]:
    with FeedReplayServer(live=True) as server:
        yield server


@pytest.mark.parametrize("spec", all_sources(), ids=lambda spec: spec.name)
def test_every_source_is_answered_for_the_last_hour(
    live: FeedReplayServer, monkeypatch: pytest.MonkeyPatch, spec: SourceSpec
) -> None:
    assert spec.name in live.sources, f"no replay fixture under include/feeds/{spec.name}/"
    monkeypatch.setenv(f"AIRFLOW_CONN_{spec.conn_id.upper()}", live.connection_json(spec.name))
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hook = spec.hook_class(**spec.hook_params)
    pages = list(hook.iter_pages(FetchWindow(end - timedelta(hours=1), end), **spec.fetch_options))
    records = sum(1 for page in pages for _ in spec.split_records(page))
    assert pages
    assert records > 0


def test_taxii_pages_are_moved_into_the_requested_window(live: FeedReplayServer) -> None:
    import requests

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    auth = {"Authorization": "Bearer taxii-test-key"}
    objects = f"{live.url}/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/"
    query = {"added_after": f"{start:%Y-%m-%dT%H:%M:%S}.000000Z", "match[type]": "indicator"}
    first = requests.get(objects, params=query, headers=auth, timeout=30)
    assert first.status_code == 200
    added_first = datetime.fromisoformat(first.headers["X-TAXII-Date-Added-First"])
    assert start <= added_first < start + timedelta(hours=1)
    token = first.json()["next"]
    second = requests.get(objects, params={**query, "next": token}, headers=auth, timeout=30)
    assert second.status_code == 200, second.text
    last = second.headers["X-TAXII-Date-Added-Last"]
    assert start < datetime.fromisoformat(last) < start + timedelta(hours=1)
    # The next request asks from that header on: the same offset, the fixture's last page.
    third = requests.get(objects, params={**query, "added_after": last}, headers=auth, timeout=30)
    assert third.status_code == 200, third.text
    assert third.json()["more"] is False
    assert datetime.fromisoformat(third.headers["X-TAXII-Date-Added-Last"]) < start + timedelta(hours=1)
