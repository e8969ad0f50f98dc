"""What a feed fetch asks for and what it returns, free of the HTTP stack.

Operators, parsers and source specs use these types without importing ``requests`` or
``urllib3``: a stored page is validated through the same :class:`FetchedPage` a live
response is read through.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from threatstream.parsing.streams import ByteStream


@dataclass(frozen=True)
class FetchWindow:
    """The time window a run asks the feed for (the DAG run's data interval)."""

    start: datetime | None = None
    end: datetime | None = None


#: Re-issues the request of a streamed page, for another attempt after a body cut short.
PageReopener = Callable[[], ByteStream]


class FetchedPage:
    """One raw response body plus what the parser needs to read it.

    The body is ``bytes`` (small pages) or a readable binary stream: the open response of a
    large single-body feed, streamed to storage without being held in memory, or a stored
    page being validated. A streamed response page may carry ``reopen``, which requests it
    again when an attempt to read it fails mid-body. Parsers read the body with
    :meth:`open` (incrementally) or :attr:`body` (whole, bounded by ``max_body_bytes``).
    """

    def __init__(
        self,
        body: bytes | ByteStream = b"",
        kind: str = "default",
        context: Mapping[str, Any] | None = None,
        *,
        reopen: PageReopener | None = None,
    ) -> None:
        self._body = body
        self.kind = kind
        self.context: Mapping[str, Any] = context if context is not None else {}
        self._reopen = reopen
        self._opened = False

    def open(self) -> AbstractContextManager[ByteStream]:
        """The body as a binary stream, closed on exit; a streamed body is read once, then reopened."""
        if isinstance(self._body, bytes):
            return io.BytesIO(self._body)
        if not self._opened:
            self._opened = True
            return closing(self._body)
        if self._reopen is None:
            raise RuntimeError("this page's body is a stream that has already been read")
        return closing(self._reopen())

    @property
    def body(self) -> bytes:
        """The whole body; a stream is read on first use."""
        if not isinstance(self._body, bytes):
            with self.open() as stream:
                self._body = stream.read()
        return self._body
