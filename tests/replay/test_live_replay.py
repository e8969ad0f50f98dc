"""Live mode of the replay server (what ``make airflow`` runs) and its slow scenario."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer, shift_timestamps

pytestmark = pytest.mark.replay


@pytest.fixture(scope="module")
def live() -> Iterator[FeedReplayServer]:
    with FeedReplayServer(live=True) as server:
        yield server


def _get(server: FeedReplayServer, path: str, header: str, source: str, **params: str) -> requests.Response:
    return requests.get(f"{server.url}{path}", params=params, headers={header: TEST_KEYS[source]}, timeout=30)


def test_shift_keeps_every_timestamp_format() -> None:
    body = (
        b'{"a": "2026-05-28T09:43:18.855000", "b": "2026-05-30 11:59:00 UTC", '
        b'"c": "2026-05-30T09:00:02+00:00", "next": "?modified_since=2026-05-01T00%3A00%3A00&page=2"}'
    )
    shifted = shift_timestamps(body, timedelta(days=1, hours=1))
    assert shifted == (
        b'{"a": "2026-05-29T10:43:18.855000", "b": "2026-05-31 12:59:00 UTC", '
        b'"c": "2026-05-31T10:00:02+00:00", "next": "?modified_since=2026-05-02T01%3A00%3A00&page=2"}'
    )


def test_otx_pulses_follow_the_requested_window(live: FeedReplayServer) -> None:
    since = "2026-12-01T13:30:00"
    first = _get(live, "/api/v1/pulses/subscribed", "X-OTX-API-KEY", "otx", modified_since=since).json()
    newest = max(datetime.fromisoformat(p["modified"]) for p in first["results"])
    start = datetime.fromisoformat(since)
    assert start < newest <= start + timedelta(hours=1)  # modified inside the window
    second = requests.get(first["next"], headers={"X-OTX-API-KEY": TEST_KEYS["otx"]}, timeout=30).json()
    assert all(datetime.fromisoformat(p["modified"]) < newest for p in second["results"])  # same offset


def test_snapshot_feeds_look_fresh(live: FeedReplayServer) -> None:
    now = datetime.now(UTC)
    urls = _get(live, "/v1/urls/recent/", "Auth-Key", "urlhaus").json()["urls"]
    newest = datetime.strptime(urls[0]["date_added"], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    assert abs(newest - now) < timedelta(minutes=5)
    meta = _get(live, "/api/v2/blacklist", "Key", "abuseipdb").json()["meta"]
    assert abs(datetime.fromisoformat(meta["generatedAt"]) - now) < timedelta(minutes=5)


def test_fixtures_stay_verbatim_without_live_mode(replay: FeedReplayServer) -> None:
    urls = _get(replay, "/v1/urls/recent/", "Auth-Key", "urlhaus").json()["urls"]
    assert urls[0]["date_added"] == "2026-05-30 11:59:00 UTC"


def test_slow_scenario_delays_the_answer(replay: FeedReplayServer) -> None:
    route = next(
        r for r in replay.sources["urlhaus"].scenarios["slow"] if r.pattern.match("/v1/urls/recent/")
    )
    assert route.delay == 8
    object.__setattr__(route, "delay", 0.5)  # keep the test short; the scenario itself says 8 s
    replay.use_scenario("urlhaus", "slow")
    started = time.monotonic()
    assert _get(replay, "/v1/urls/recent/", "Auth-Key", "urlhaus").status_code == 200
    assert time.monotonic() - started >= 0.5
    object.__setattr__(route, "delay", 8.0)
