"""A generic TAXII 2.1 collection: STIX 2.1 indicators whose pattern names one observable.

Contract relied on (docs/sources.md; the OASIS TAXII 2.1 specification as quoted in
OpenCTI PR #5691, the ``taxii2-client`` documentation, ThreatConnect's TAXII 2.1 docs for
Basic auth): every request sends ``Accept: application/taxii+json;version=2.1``. Server
discovery ``GET /taxii2/`` answers ``{"title", "default", "api_roots": [...]}`` (absolute
URLs); ``GET {api-root}/collections/`` lists ``{"id", "title", "can_read", ...}``; and
``GET {api-root}/collections/{id}/objects/?added_after=<ts>&limit=N&match[type]=indicator``
answers the envelope ``{"more": bool, "next": "<opaque>", "objects": [...]}`` with the
headers ``X-TAXII-Date-Added-First`` / ``X-TAXII-Date-Added-Last``. Paging: while ``more``
is true, repeat the query with ``next``; when ``more`` is true but ``next`` is empty, repeat
it with ``added_after`` = ``X-TAXII-Date-Added-Last`` (the spec's fallback).

Pages are read item by item, never decoded whole: paging reads only ``more`` and ``next``
(and the headers), and :func:`split_records` streams ``objects`` one object at a time. A
paging chain that does not advance fails the run at once with :class:`FeedFormatError`
(no retry): a ``next`` token already followed, or an ``X-TAXII-Date-Added-Last`` that is
not later than the previous page's (so more than ``limit`` objects added at the very same
instant cannot be paged: raise ``limit``). So does a date header that is not an RFC 3339
timestamp, one later than now plus :data:`MAX_CLOCK_SKEW`, or a ``-Last`` before its
``-First``; each message names the header, the collection and the connection.

Runs cover real hourly data intervals: ``added_after`` is the interval start, so backfill
recovers past windows. TAXII has no ``added_before``; paging stops at a page whose
``X-TAXII-Date-Added-First`` is past the interval end (later runs fetch it), and at
``max_pages``. When that is the first page, the window had nothing new: the run is green
and empty, and says so in its log and in the batch's ``source_metadata``
(``stopped_at_window_end`` and the page's ``date_added_first``), which tells it apart from
a server that answered an empty page. Auth: the connection's login and password as HTTP
Basic, or the password alone as a Bearer token; public servers need neither.

STIX patterns: one comparison ``[<object>:<path> = '<value>']`` (whitespace around ``:``
and ``=`` allowed, ``\\'`` and ``\\\\`` the only escapes) is matched by a strict
expression; anything else is parsed with the STIX 2.1 pattern grammar (``stix2patterns``,
imported on first use) and mapped when it names one observable:
``ipv4-addr:value`` (IPv4, or CIDR with a prefix), ``ipv6-addr:value``,
``domain-name:value`` (with ``AND resolves_to_refs[*].value``: the addresses go to
``raw_metadata``), ``url:value``, ``email-addr:value``, ``file:hashes`` (several hashes of
one file joined by ``OR`` or ``AND``, and other ``file`` properties joined by ``AND``: the
strongest of SHA-256, SHA-1, MD5 is the indicator, the rest go to ``raw_metadata``, as one
STIX indicator is one document), and ``network-traffic:dst_ref`` / ``src_ref`` with its
``.type`` and ``.value`` (ports and protocols joined by ``AND`` go to ``raw_metadata``).
Conditions are quarantined as ``unsupported_pattern`` with the reason: several
observations, ``FOLLOWEDBY``, qualifiers, ``!=``, ``NOT``, ranges, ``LIKE``, ``MATCHES``,
``IN``, comparisons of several objects or alternatives of several values, other paths,
invalid STIX and non-STIX ``pattern_type``.
``valid_from`` is ``first_seen``, ``modified`` is ``last_seen``, ``valid_until`` bounds
the TTL, ``revoked`` indicators are expired, ``labels`` are tags, ``confidence`` is kept,
and a TLP marking (1.0 or 2.0 ids, or a TLP marking-definition on the same page) is the TLP.
"""

from __future__ import annotations

from datetime import timedelta

from threatstream.sources.base import SourceSpec
from threatstream.sources.taxii.envelope import split_records
from threatstream.sources.taxii.hook import TaxiiHook
from threatstream.sources.taxii.parse import parse_record

TAXII = SourceSpec(
    name="taxii",
    title="TAXII 2.1 collection",
    hook_class=TaxiiHook,
    split_records=split_records,
    parse_record=parse_record,
    schedule="0 * * * *",
    default_ttl=timedelta(days=90),
    fetch_options={"api_root": "", "collection": "", "limit": 1000},
    interval_based=True,
    description=__doc__ or "",
    weight=0.7,
    default_confidence=50,
)
