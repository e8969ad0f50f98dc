"""Field types the record models share: datetimes held in UTC and written as ISO 8601 with ``Z``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer

from threatstream.parsing.timestamps import ensure_utc, format_utc

#: A datetime written to JSON by :func:`~threatstream.parsing.timestamps.format_utc`.
UtcDatetime = Annotated[datetime, PlainSerializer(format_utc, return_type=str, when_used="json")]
#: A datetime as parsers give it, naive ones taken as UTC; made UTC when validated.
UtcInput = Annotated[datetime, AfterValidator(ensure_utc)]
