"""Shared parsing helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from threatstream.exceptions import FeedFormatError
from threatstream.parsing import load_json_page, parse_timestamp, string_list


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


def test_string_list_accepts_null_strings_and_objects() -> None:
    assert string_list(None) == ()
    assert string_list(["a", " b ", "", None]) == ("a", "b")
    assert string_list([{"id": "x", "name": "Emotet", "display_name": "Emotet (bot)"}, {"id": "T1059"}]) == (
        "Emotet (bot)",
        "T1059",
    )


def test_load_json_page_names_what_failed() -> None:
    with pytest.raises(FeedFormatError, match="OTX page: response is not JSON"):
        load_json_page(b"<html>504 Gateway Time-out</html>", "OTX page")
