"""Timestamps as feeds write them, and as the package writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from threatstream.parsing.timestamps import SORTABLE, Timespec, format_utc, parse_timestamp

PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-10-05 13:54:10 UTC", datetime(2021, 10, 5, 13, 54, 10, tzinfo=UTC)),
        ("2023-08-22T09:43:18.855000", datetime(2023, 8, 22, 9, 43, 18, 855000, tzinfo=UTC)),
        ("2015-09-02T09:21:53.093", datetime(2015, 9, 2, 9, 21, 53, 93000, tzinfo=UTC)),
        ("2023-08-09T05:05:15", datetime(2023, 8, 9, 5, 5, 15, tzinfo=UTC)),
        ("2026-05-30T08:14:00+00:00", datetime(2026, 5, 30, 8, 14, tzinfo=UTC)),
        ("2026-05-30T10:14:00+02:00", datetime(2026, 5, 30, 8, 14, tzinfo=UTC)),
        ("2026-05-30T08:14:00Z", datetime(2026, 5, 30, 8, 14, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_parse_timestamp(text: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", 12345])
def test_parse_timestamp_rejects_garbage(bad: object) -> None:
    with pytest.raises(ValueError, match=r"timestamp|Invalid isoformat|month must be"):
        parse_timestamp(bad)


def test_format_utc_converts_offsets() -> None:
    assert format_utc(datetime(2026, 1, 1, 1, 0, tzinfo=PLUS_ONE)) == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("moment", "timespec", "expected"),
    [
        (datetime(2026, 1, 1, 1, 2, 3), "auto", "2026-01-01T01:02:03Z"),
        (datetime(2026, 1, 1, 1, 2, 3, 456789, tzinfo=UTC), "auto", "2026-01-01T01:02:03.456789Z"),
        (datetime(2026, 1, 1, 1, 2, 3), SORTABLE, "2026-01-01T01:02:03.000000Z"),
        (datetime(2026, 1, 1, 1, 2, 3, 456789, tzinfo=UTC), SORTABLE, "2026-01-01T01:02:03.456789Z"),
        (datetime(2026, 1, 1, 1, 2, 3, 456789, tzinfo=UTC), "milliseconds", "2026-01-01T01:02:03.456Z"),
        (datetime(2026, 1, 1, 2, 2, 3, tzinfo=PLUS_ONE), "milliseconds", "2026-01-01T01:02:03.000Z"),
    ],
)
def test_format_utc_writes_the_fraction_digits_asked_for(
    moment: datetime, timespec: Timespec, expected: str
) -> None:
    assert format_utc(moment, timespec) == expected
