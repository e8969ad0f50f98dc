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

import hashlib
import logging
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
import requests

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP_OF_MARKING, IndicatorType
from threatstream.exceptions import FeedFormatError, FeedRequestError
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.limits import MIB
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.parsing.json_stream import iter_json_array, json_value, load_json_page
from threatstream.parsing.streams import read_head
from threatstream.parsing.string_lists import string_list
from threatstream.parsing.timestamps import SORTABLE, format_utc, parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.base import SourceSpec

log = logging.getLogger(__name__)

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
#: Largest single STIX object a page may hold (an indicator is a few kB).
MAX_OBJECT_BYTES = 4 * MIB
#: How far in the future of this worker's clock a TAXII date header may be (clock skew).
MAX_CLOCK_SKEW = timedelta(minutes=10)
#: Indicators waiting for a marking-definition later on their page are kept in memory up to
#: this size, then on disk.
DEFERRED_IN_MEMORY_BYTES = 1 * MIB
DATE_ADDED_FIRST = "X-TAXII-Date-Added-First"
DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"

_STRING_BODY = r"(?:[^'\\]|\\['\\])*"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: The common shape, without the grammar: one ``=`` comparison of a string, with a plain path.
_COMPARISON = re.compile(
    rf"^\[\s*(?P<object>[A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(?P<path>{_NAME}(?:\.(?:{_NAME}|'{_STRING_BODY}'))*)"
    rf"\s*=\s*'(?P<value>{_STRING_BODY})'\s*\]$"
)
_PATH_STEP = re.compile(rf"\.(?:({_NAME})|'({_STRING_BODY})')")
_ESCAPED = re.compile(r"\\(['\\])")
#: File hash algorithms stored as indicators, strongest first (STIX names, upper case, no '-').
_HASHES: dict[str, IndicatorType] = {
    "SHA256": IndicatorType.FILEHASH_SHA256,
    "SHA1": IndicatorType.FILEHASH_SHA1,
    "MD5": IndicatorType.FILEHASH_MD5,
}
_VALUE_TYPES: dict[str, IndicatorType] = {
    "ipv4-addr": IndicatorType.IPV4,
    "ipv6-addr": IndicatorType.IPV6,
    "domain-name": IndicatorType.DOMAIN,
    "url": IndicatorType.URL,
    "email-addr": IndicatorType.EMAIL,
}
#: What a ``network-traffic`` endpoint (``dst_ref`` / ``src_ref``) may be.
_ENDPOINT_TYPES = ("ipv4-addr", "ipv6-addr", "domain-name")
KEPT_FIELDS = ("id", "name", "indicator_types", "pattern", "created", "modified", "created_by_ref")


class TaxiiHook(FeedHook):
    """TAXII 2.1 client for one collection, on the shared transport (retries, bounds, errors).

    :param http_conn_id: connection with schema/host/port = the TAXII server; login and
        password for Basic auth, or only a password for a Bearer token.
    """

    default_conn_name = "threatstream_taxii"
    hook_name = "TAXII"
    key_required = False
    default_headers = {"Accept": TAXII_MEDIA_TYPE}  # noqa: RUF012 (HttpHook's own attribute)
    option_schema = {  # noqa: RUF012
        "api_root": {"type": "string"},
        "collection": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 10_000},
    }

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        session.auth = None
        self._api_key = connection.password or None
        if connection.login and self._api_key:
            session.auth = requests.auth.HTTPBasicAuth(connection.login, self._api_key)
        elif self._api_key:
            session.headers["Authorization"] = f"Bearer {self._api_key}"
        return session

    def error_detail(self, response: requests.Response) -> str:
        """TAXII errors are ``{"title", "description", "http_status"}``."""
        try:
            body = response.json()
            text = " - ".join(str(body[k]) for k in ("title", "description") if body.get(k))
        except (ValueError, AttributeError, TypeError):
            text = ""
        return self._redact(text)[:300] if text else super().error_detail(response)

    def _json(self, endpoint: str, what: str, params: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
        response = self.get(endpoint, params)
        return load_json_page(response.content, f"TAXII {what}"), response

    def api_root(self, api_root: str = "") -> str:
        """The API root endpoint: the one given, else the discovery's ``default`` (or only) root."""
        if api_root:
            return self.rebase_link(api_root).rstrip("/") + "/"
        discovery, _ = self._json("taxii2/", "server discovery")
        roots = discovery.get("api_roots") if isinstance(discovery, dict) else None
        default = discovery.get("default") if isinstance(discovery, dict) else None
        if not default and isinstance(roots, list) and len(roots) == 1:
            default = roots[0]
        if not isinstance(default, str) or not default:
            raise FeedRequestError(
                f"TAXII server discovery names no default API root; set the api_root param ({roots})"
            )
        return self.rebase_link(default).rstrip("/") + "/"

    def collection(self, api_root: str, collection: str = "") -> str:
        """The collection id: the one given, else the API root's only readable collection."""
        if collection:
            return collection
        listing, _ = self._json(f"{api_root}collections/", "collections")
        entries = listing.get("collections") if isinstance(listing, dict) else None
        readable = [
            c["id"] for c in entries or [] if isinstance(c, dict) and c.get("can_read") and c.get("id")
        ]
        if len(readable) != 1:
            raise FeedRequestError(
                f"TAXII API root {api_root} has {len(readable)} readable collections {readable}; "
                "set the collection param"
            )
        return str(readable[0])

    def iter_pages(
        self,
        window: FetchWindow,
        *,
        api_root: str = "",
        collection: str = "",
        limit: int = 1000,
        **_: Any,
    ) -> Iterator[FetchedPage]:
        """Yield each envelope of indicators added to the collection since the window start.

        :param api_root: API root URL or path; empty: the server discovery's default.
        :param collection: collection id; empty: the API root's only readable collection.
        :param limit: objects per page (servers may return fewer).

        Each page is read for ``more`` and ``next`` only (never decoded whole). Paging stops
        at the window end, fails at once when it does not advance, and at the hook's
        ``max_pages`` limit (a chain that does not end fails).
        """
        if window.start is None:
            raise ValueError("TAXII fetches need the run's data interval start")
        root = self.api_root(api_root)
        collection_id = self.collection(root, collection)
        endpoint = f"{root}collections/{collection_id}/objects/"
        query = {
            "added_after": format_utc(window.start, SORTABLE),
            "limit": int(limit),
            "match[type]": "indicator",
        }
        params: dict[str, Any] = dict(query)
        context = {"api_root": root, "collection": collection_id}
        what = f"TAXII objects of collection {collection_id} at {root} (connection '{self.http_conn_id}')"
        self._paging: dict[str, Any] = {"stopped_at_window_end": False}
        max_pages = self.limits.max_pages
        followed: set[bytes] = set()
        previous_last: datetime | None = None
        for page in range(max_pages):
            response = self.get(endpoint, params)
            content = response.content
            first, last = self._date_added(response, what)
            if window.end is not None and first is not None and first > window.end:
                # Added after this run's interval: a later run fetches it.
                self._paging = {"stopped_at_window_end": True, "date_added_first": first.isoformat()}
                log.info(
                    "%s: page %d was first added at %s, after the window end %s; %s",
                    what,
                    page + 1,
                    first.isoformat(),
                    window.end.isoformat(),
                    "nothing was added in this window" if page == 0 else "left to later runs",
                )
                return
            if last is not None and previous_last is not None and last <= previous_last:
                raise FeedFormatError(
                    f"{what}: {DATE_ADDED_LAST} {last.isoformat()} does not advance past the previous "
                    f"page's {previous_last.isoformat()}: the paging repeats itself"
                )
            previous_last = last if last is not None else previous_last
            more = self._envelope_value(content, "more", what)
            yield FetchedPage(body=content, kind="envelope", context=context)
            if more is None or more is False:
                return
            if more is not True:
                raise FeedFormatError(f"{what}: 'more' is {more!r}, not a boolean")
            token = self._envelope_value(content, "next", what)
            if token is not None and not isinstance(token, (str, int)):
                raise FeedFormatError(f"{what}: 'next' is not a string")
            if token is not None and str(token):
                digest = hashlib.sha256(str(token).encode()).digest()
                if digest in followed:
                    raise FeedFormatError(
                        f"{what}: 'next' {str(token)[:80]!r} was already followed: the paging repeats itself"
                    )
                followed.add(digest)
                params = {**params, "next": str(token)}
            else:
                params = self._added_after_params(query, params, last, what)
        raise FeedFormatError(f"{what}: paging did not end after {max_pages} pages")

    def source_metadata(self) -> dict[str, Any]:
        """Whether paging stopped at a page added after the window (and when that page begins)."""
        return dict(getattr(self, "_paging", {}))

    @staticmethod
    def _envelope_value(content: bytes, key: str, what: str) -> Any:
        """A top-level member of the envelope, read without decoding the page."""
        if not content.lstrip()[:1] == b"{":
            raise FeedFormatError(f"{what}: the envelope is not a JSON object")
        return json_value(content, key, what)

    @staticmethod
    def _date_added(response: requests.Response, what: str) -> tuple[datetime | None, datetime | None]:
        """The page's ``X-TAXII-Date-Added-First`` and ``-Last``, checked: RFC 3339, not in the
        future (beyond :data:`MAX_CLOCK_SKEW`), the first not after the last."""
        latest = datetime.now(UTC) + MAX_CLOCK_SKEW
        moments: list[datetime | None] = []
        for header in (DATE_ADDED_FIRST, DATE_ADDED_LAST):
            value = response.headers.get(header)
            try:
                moment = parse_timestamp(value)
            except (ValueError, OverflowError):
                raise FeedFormatError(
                    f"{what}: header {header} is not an RFC 3339 timestamp: {str(value)[:80]!r}"
                ) from None
            if moment is not None and moment > latest:
                raise FeedFormatError(
                    f"{what}: header {header} {moment.isoformat()} is in the future (this worker's clock "
                    f"says {datetime.now(UTC).isoformat(timespec='seconds')}); the server's clock or "
                    "header is wrong"
                )
            moments.append(moment)
        first, last = moments
        if first is not None and last is not None and last < first:
            raise FeedFormatError(
                f"{what}: header {DATE_ADDED_LAST} {last.isoformat()} is before "
                f"{DATE_ADDED_FIRST} {first.isoformat()}"
            )
        return first, last

    @staticmethod
    def _added_after_params(
        query: Mapping[str, Any], params: Mapping[str, Any], last: datetime | None, what: str
    ) -> dict[str, Any]:
        """The next request without ``next``: ``added_after`` = ``X-TAXII-Date-Added-Last``."""
        if last is None:
            raise FeedFormatError(f"{what}: 'more' is true but there is no 'next' and no {DATE_ADDED_LAST}")
        added_after = format_utc(last, SORTABLE)
        if added_after <= str(params["added_after"]):
            raise FeedFormatError(f"{what}: {DATE_ADDED_LAST} {added_after} does not advance the paging")
        return {**query, "added_after": added_after}


def _marking_tlp(obj: Mapping[str, Any]) -> str | None:
    """The TLP label a marking definition defines, or None for another kind of marking."""
    definition = obj.get("definition")
    name = obj.get("name") or (definition.get("tlp") if isinstance(definition, dict) else None)
    if isinstance(name, str) and (obj.get("definition_type") == "tlp" or name.upper().startswith("TLP:")):
        return name
    return None


def _marking_refs(indicator: Mapping[str, Any]) -> list[str]:
    refs = indicator.get("object_marking_refs")
    return [ref for ref in refs if isinstance(ref, str)] if isinstance(refs, list) else []


def _objects(stream: Any) -> Iterator[Any]:
    """The objects of an envelope, one at a time; an envelope without ``objects`` has none
    (TAXII leaves the member out when there is nothing to return)."""
    head, stream = read_head(stream)
    if len(head) < 1 << 16:  # the whole envelope: a small one may lack 'objects'
        try:
            envelope = orjson.loads(head)
        except orjson.JSONDecodeError:
            envelope = None
        if isinstance(envelope, dict) and "objects" not in envelope:
            return
    yield from iter_json_array(stream, "objects", "TAXII objects", max_record_bytes=MAX_OBJECT_BYTES)


def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
    """One record per indicator of an envelope, with the TLP labels of its markings.

    The objects are streamed one at a time. Marking definitions on the page name TLP labels
    for its indicators: an indicator is passed on as soon as all its markings are known (the
    shared TLP ids, or definitions earlier on the page); one marked by an id not seen yet waits
    (in memory up to :data:`DEFERRED_IN_MEMORY_BYTES`, then on disk) until the page has been read.
    """
    tlp: dict[str, str | None] = dict(TLP_OF_MARKING)
    with page.open() as stream, tempfile.SpooledTemporaryFile(DEFERRED_IN_MEMORY_BYTES) as deferred:
        waiting = 0
        for obj in _objects(stream):
            if not isinstance(obj, dict):
                continue
            kind = obj.get("type")
            if kind == "marking-definition":
                tlp[str(obj.get("id"))] = _marking_tlp(obj)
            elif kind == "indicator":
                if all(ref in tlp for ref in _marking_refs(obj)):
                    yield _record(obj, tlp)
                else:
                    deferred.write(orjson.dumps(obj) + b"\n")
                    waiting += 1
        if waiting:
            deferred.seek(0)
            for line in deferred:
                yield _record(orjson.loads(line), tlp)


def _record(indicator: Mapping[str, Any], tlp: Mapping[str, str | None]) -> dict[str, Any]:
    labels = [tlp.get(ref) for ref in _marking_refs(indicator)]
    return {"indicator": indicator, "tlp_labels": [label for label in labels if label]}


class PatternIndicator(NamedTuple):
    """What a STIX pattern names: the indicator, and other facts the pattern states about it."""

    indicator_type: IndicatorType
    value: str
    facts: dict[str, Any]


class _Comparison(NamedTuple):
    """``<object>:<path> = <value>``; ``path`` holds keys and ``[*]`` / ``[n]`` index steps."""

    object: str
    path: tuple[str, ...]
    value: Any

    @property
    def dotted(self) -> str:
        return ".".join(self.path).replace(".[", "[")


def _unsupported(message: str) -> InvalidIndicator:
    return InvalidIndicator("unsupported_pattern", message)


def pattern_indicator(pattern: Any) -> tuple[IndicatorType, str]:
    """The indicator type and value a STIX pattern names (see :func:`pattern_observable`)."""
    found = pattern_observable(pattern)
    return found.indicator_type, found.value


def pattern_observable(pattern: Any) -> PatternIndicator:
    """The one observable a STIX pattern names, with the other facts it states.

    A single comparison is matched without the grammar; anything else is parsed with the
    STIX 2.1 pattern grammar and mapped when it is one of the compound forms of one
    observable (module docstring).

    :raises InvalidIndicator: ``unsupported_pattern`` for anything else, with the reason.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise _unsupported("indicator has no pattern")
    text = pattern.strip()
    match = _COMPARISON.match(text)
    if match is not None:
        return _one_comparison(
            _Comparison(match["object"], _path_steps(match["path"]), _ESCAPED.sub(r"\1", match["value"]))
        )
    return _observable(_parse(text), text)


def _path_steps(path: str) -> tuple[str, ...]:
    """The keys of a plain object path (``hashes.'SHA-256'`` -> ``("hashes", "SHA-256")``)."""
    first, _, rest = path.partition(".")
    later = _PATH_STEP.findall(f".{rest}") if rest else []
    return (first, *(name or _ESCAPED.sub(r"\1", quoted) for name, quoted in later))


def _one_comparison(comparison: _Comparison) -> PatternIndicator:
    obj, path, value = comparison
    if not isinstance(value, str):
        raise _unsupported(f"{obj}:{comparison.dotted} is compared with {value!r}, not a string")
    if obj == "file" and len(path) == 2 and path[0] == "hashes":
        algorithm = _algorithm(path[1])
        if algorithm in _HASHES:
            return PatternIndicator(_HASHES[algorithm], value, {})
    elif path == ("value",) and obj in _VALUE_TYPES:
        indicator_type = _VALUE_TYPES[obj]
        if indicator_type in (IndicatorType.IPV4, IndicatorType.IPV6) and "/" in value:
            indicator_type = IndicatorType.CIDR
        return PatternIndicator(indicator_type, value, {})
    raise _unsupported(f"{obj}:{comparison.dotted} is not a supported observable")


def _algorithm(name: str) -> str:
    return name.upper().replace("-", "")


# -- compound patterns: the STIX 2.1 pattern grammar ---------------------------------------------

#: An expression inside one observation: a comparison, or ("AND" | "OR", operands).
_Expression = _Comparison | tuple[str, list[Any]]


def _parse(text: str) -> _Expression:
    """The comparisons of the pattern's one observation, as nested ``AND`` / ``OR``."""
    from stix2patterns.exceptions import ParseException  # heavy: imported only when needed
    from stix2patterns.v21.pattern import Pattern

    try:
        tree = Pattern(text).visit(_TreeOf())
    except ParseException as err:
        raise _unsupported(f"{text[:120]!r} is not a valid STIX pattern ({str(err)[:120]})") from None
    observation = _one_observation(tree.getChild(0))
    return _expression(observation.getChild(1))


class _TreeOf:
    """A visitor that returns the parse tree itself (``Pattern`` keeps it private)."""

    def visit(self, tree: Any) -> Any:
        return tree


def _rule(node: Any) -> str:
    return type(node).__name__.removesuffix("Context")


def _one_observation(node: Any) -> Any:
    """The single ``[...]`` observation of the pattern; several, or qualifiers, are conditions."""
    while True:
        rule = _rule(node)
        if node.getChildCount() == 1 and rule.startswith("ObservationExpression"):
            node = node.getChild(0)
        elif rule == "ObservationExpressionSimple":
            return node
        elif rule == "ObservationExpressionCompound":
            node = node.getChild(1)
        elif node.getChildCount() == 3 and rule in (
            "ObservationExpressions",
            "ObservationExpressionOr",
            "ObservationExpressionAnd",
        ):
            raise _unsupported(f"several observations joined by {node.getChild(1).getText()}")
        else:
            raise _unsupported(f"an observation with a qualifier ({node.getText()[:120]})")


def _expression(node: Any) -> _Expression:
    rule = _rule(node)
    if rule in ("ComparisonExpression", "ComparisonExpressionAnd"):
        if node.getChildCount() == 1:
            return _expression(node.getChild(0))
        operator = node.getChild(1).getText().upper()
        operands: list[Any] = []
        for side in (node.getChild(0), node.getChild(2)):
            inner = _expression(side)
            is_same = isinstance(inner, tuple) and not isinstance(inner, _Comparison) and inner[0] == operator
            operands.extend(inner[1] if is_same else [inner])
        return (operator, operands)
    if rule == "PropTestParen":
        return _expression(node.getChild(1))
    if rule == "PropTestEqual":
        if node.getChildCount() != 3 or node.getChild(1).getText() != "=":
            raise _unsupported(f"a condition, not an observable: {node.getText()[:120]}")
        obj, path = _object_path(node.getChild(0))
        return _Comparison(obj, path, _literal(node.getChild(2)))
    words = {
        "PropTestOrder": "a range",
        "PropTestLike": "LIKE",
        "PropTestRegex": "MATCHES",
        "PropTestSet": "IN",
        "PropTestIsSubset": "ISSUBSET",
        "PropTestIsSuperset": "ISSUPERSET",
        "PropTestExists": "EXISTS",
    }
    what = words.get(rule, rule.removeprefix("PropTest") or rule)
    raise _unsupported(f"a condition ({what}), not an observable: {node.getText()[:120]}")


def _object_path(node: Any) -> tuple[str, tuple[str, ...]]:
    obj = node.getChild(0).getText()
    steps = [_key(node.getChild(2).getText())]
    if node.getChildCount() > 3:
        steps.extend(_steps(node.getChild(3)))
    return obj, tuple(steps)


def _steps(node: Any) -> list[str]:
    rule = _rule(node)
    if rule == "PathStep":
        return [step for child in node.getChildren() for step in _steps(child)]
    if rule == "KeyPathStep":
        return [_key(node.getChild(1).getText())]
    return [node.getText()]  # an index step: [*] or [n]


def _key(text: str) -> str:
    return _ESCAPED.sub(r"\1", text[1:-1]) if text.startswith("'") else text


def _literal(node: Any) -> Any:
    text = node.getText()
    if text.startswith("'"):
        return _ESCAPED.sub(r"\1", text[1:-1])
    return int(text) if text.lstrip("+-").isdigit() else text


def _observable(expression: _Expression, text: str) -> PatternIndicator:
    """The one observable an observation's comparisons name (the forms of the module docstring)."""
    if isinstance(expression, _Comparison):
        return _one_comparison(expression)
    operator, operands = expression
    if not all(isinstance(operand, _Comparison) for operand in operands):
        raise _unsupported(f"a condition mixing AND and OR, not one observable: {text[:120]!r}")
    comparisons: list[_Comparison] = operands
    objects = sorted({c.object for c in comparisons})
    if len(objects) > 1:
        raise _unsupported(f"compares several objects ({', '.join(objects)}), not one observable")
    obj = objects[0]
    if obj == "file":
        return _file(operator, comparisons)
    if operator == "OR":
        raise _unsupported(f"alternatives ({obj} ... OR ...): each is a separate indicator")
    if obj == "network-traffic":
        return _endpoint(comparisons)
    if obj == "domain-name":
        return _resolving_domain(comparisons)
    raise _unsupported(f"{obj}: a combination of comparisons that is not one observable")


def _file(operator: str, comparisons: list[_Comparison]) -> PatternIndicator:
    """Several hashes of one file (``OR`` or ``AND``), with other properties (``AND`` only)."""
    hashes: dict[str, str] = {}
    properties: dict[str, Any] = {}
    for comparison in comparisons:
        if len(comparison.path) == 2 and comparison.path[0] == "hashes":
            name = comparison.path[1]
            if not isinstance(comparison.value, str):
                raise _unsupported(f"file:hashes.{name} is not compared with a string")
            if hashes.get(name, comparison.value) != comparison.value:
                raise _unsupported(f"several values of file:hashes.{name}: several files")
            hashes[name] = comparison.value
        elif operator == "AND":
            properties[comparison.dotted] = comparison.value
        else:
            raise _unsupported(f"alternatives (file:{comparison.dotted} OR ...): not one file")
    strongest = next(
        (name for algorithm in _HASHES for name in hashes if _algorithm(name) == algorithm), None
    )
    if strongest is None:
        raise _unsupported(f"no SHA-256, SHA-1 or MD5 among the file's hashes {sorted(hashes)}")
    facts: dict[str, Any] = {"file_hashes": hashes}
    if properties:
        facts["file"] = properties
    return PatternIndicator(_HASHES[_algorithm(strongest)], hashes[strongest], facts)


def _endpoint(comparisons: list[_Comparison]) -> PatternIndicator:
    """``network-traffic:dst_ref`` (or ``src_ref``) ``.type`` and ``.value``, with ports and
    protocols as facts (the shape MISP exports ``ip-dst`` / ``ip-src`` / ``ip-dst|port`` in)."""
    refs = {c.path[0] for c in comparisons if c.path[0].endswith("_ref")}
    if len(refs) != 1:
        raise _unsupported(f"network-traffic with {len(refs)} endpoints ({', '.join(sorted(refs))}), not one")
    ref = refs.pop()
    found = {c.path[1:]: c.value for c in comparisons if c.path[0] == ref}
    facts = {c.dotted: c.value for c in comparisons if c.path[0] != ref}
    kind, value = found.pop(("type",), None), found.pop(("value",), None)
    if found or kind not in _ENDPOINT_TYPES or not isinstance(value, str):
        raise _unsupported(
            f"network-traffic:{ref} needs its .type ({', '.join(_ENDPOINT_TYPES)}) and .value, "
            "and nothing else"
        )
    observable = _one_comparison(_Comparison(str(kind), ("value",), value))
    return PatternIndicator(observable.indicator_type, value, {"network_traffic": {"ref": ref, **facts}})


def _resolving_domain(comparisons: list[_Comparison]) -> PatternIndicator:
    """``domain-name:value`` with the addresses it resolves to (MISP's ``domain|ip``)."""
    values = {c.value for c in comparisons if c.path == ("value",)}
    resolves = [c for c in comparisons if c.path != ("value",)]
    if len(values) != 1 or not all(
        c.path[:2] == ("resolves_to_refs", "[*]") and c.path[2:] in (("value",), ("type",)) for c in resolves
    ):
        raise _unsupported("domain-name: only its value and resolves_to_refs[*] may be compared")
    addresses = sorted(str(c.value) for c in resolves if c.path[2:] == ("value",))
    observable = _one_comparison(_Comparison("domain-name", ("value",), values.pop()))
    return PatternIndicator(observable.indicator_type, observable.value, {"resolves_to": addresses})


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One STIX 2.1 indicator -> one observation (or ``unsupported_pattern``)."""
    indicator: Mapping[str, Any] = record["indicator"]
    pattern_type = indicator.get("pattern_type", "stix")
    if pattern_type != "stix":
        raise InvalidIndicator("unsupported_pattern", f"pattern_type {pattern_type!r} is not a STIX pattern")
    found = pattern_observable(indicator.get("pattern"))
    metadata: dict[str, Any] = {key: indicator.get(key) for key in KEPT_FIELDS}
    metadata.update({key: context.get(key) for key in ("api_root", "collection")})
    metadata.update(found.facts)
    labels: list[str] = list(record.get("tlp_labels") or [])
    confidence = indicator.get("confidence")
    return new_observation(
        {
            "indicator_type": found.indicator_type,
            "value": found.value,
            "confidence": confidence if isinstance(confidence, int) and 0 <= confidence <= 100 else None,
            "tags": string_list(indicator.get("labels")),
            # The label as marked; Observation maps it (an unknown one is kept as raw metadata).
            "tlp": labels[0] if labels else None,
            "first_seen": parse_timestamp(indicator.get("valid_from")),
            "last_seen": parse_timestamp(indicator.get("modified")),
            "valid_until": parse_timestamp(indicator.get("valid_until")),
            "is_active": indicator.get("revoked") is not True,
            "raw_metadata": metadata,
        }
    )


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
)
