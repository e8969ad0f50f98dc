"""A generic TAXII 2.1 collection: STIX 2.1 indicators whose pattern is one supported comparison.

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

Runs cover real hourly data intervals: ``added_after`` is the interval start, so backfill
recovers past windows. TAXII has no ``added_before``; paging stops at a page whose
``X-TAXII-Date-Added-First`` is past the interval end (later runs fetch it), and at
``max_pages``. Auth: the connection's login and password as HTTP Basic, or the password
alone as a Bearer token; public servers need neither.

STIX patterns are parsed here, strictly, without ``stix2`` (heavy to import, and only one
shape is accepted): ``[<object>:<path> = '<value>']`` with ``ipv4-addr:value`` (IPv4, or
CIDR with a prefix), ``ipv6-addr:value``, ``domain-name:value``, ``url:value``,
``email-addr:value`` and ``file:hashes.'SHA-256'`` / ``'SHA-1'`` / ``MD5``. Any other
pattern (``AND``/``OR``, several observations, qualifiers, other operators or paths, a
non-STIX ``pattern_type``) is quarantined as ``unsupported_pattern`` with the reason.
``valid_from`` is ``first_seen``, ``modified`` is ``last_seen``, ``valid_until`` bounds
the TTL, ``revoked`` indicators are expired, ``labels`` are tags, ``confidence`` is kept,
and a TLP marking (1.0 or 2.0 ids, or a TLP marking-definition on the same page) is the TLP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from threatstream.canonical import InvalidIndicator
from threatstream.exceptions import FeedFormatError, FeedRequestError
from threatstream.hooks.feed import FeedHook, FetchedPage, FetchWindow
from threatstream.models import Observation, new_observation
from threatstream.parsing import load_json_page, parse_timestamp, string_list
from threatstream.sources.base import SourceSpec
from threatstream.vocabulary import IndicatorType

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
#: The TLP marking definitions every STIX 2.1 producer shares (TLP 1.0 in STIX 2.1 itself,
#: TLP 2.0 from the OASIS common objects).
TLP_MARKINGS: dict[str, str] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}
_COMPARISON = re.compile(
    r"^\[\s*(?P<object>[a-z0-9-]+):(?P<path>[A-Za-z0-9_.'-]+)\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*\]$"
)
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
KEPT_FIELDS = ("id", "name", "indicator_types", "pattern", "created", "modified", "created_by_ref")


def format_added_after(moment: datetime) -> str:
    """RFC 3339 in UTC with 6 fraction digits, as TAXII servers compare it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        return self._redact(text[:300]) if text else super().error_detail(response)

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

        Paging stops at the hook's ``max_pages`` limit (a chain that does not end fails).
        """
        if window.start is None:
            raise ValueError("TAXII fetches need the run's data interval start")
        root = self.api_root(api_root)
        collection_id = self.collection(root, collection)
        endpoint = f"{root}collections/{collection_id}/objects/"
        query = {
            "added_after": format_added_after(window.start),
            "limit": int(limit),
            "match[type]": "indicator",
        }
        params: dict[str, Any] = dict(query)
        context = {"api_root": root, "collection": collection_id}
        max_pages = self.limits.max_pages
        for _page in range(max_pages):
            envelope, response = self._json(endpoint, "objects", params)
            if not isinstance(envelope, dict):
                raise FeedFormatError("TAXII objects: the envelope is not a JSON object")
            first = parse_timestamp(response.headers.get("X-TAXII-Date-Added-First"))
            if window.end is not None and first is not None and first > window.end:
                return  # added after this run's interval: a later run fetches it
            yield FetchedPage(body=response.content, kind="envelope", context=context)
            if not envelope.get("more"):
                return
            params = self._next_params(query, params, envelope.get("next"), response)
        raise FeedFormatError(f"TAXII objects: paging did not end after {max_pages} pages")

    @staticmethod
    def _next_params(
        query: Mapping[str, Any], params: Mapping[str, Any], token: Any, response: requests.Response
    ) -> dict[str, Any]:
        """The next request: ``next`` when given, else ``added_after`` = ``X-TAXII-Date-Added-Last``."""
        if isinstance(token, str) and token:
            return {**params, "next": token}
        last = response.headers.get("X-TAXII-Date-Added-Last")
        if not last:
            raise FeedFormatError(
                "TAXII objects: 'more' is true but there is no 'next' and no X-TAXII-Date-Added-Last"
            )
        added_after = format_added_after(parse_timestamp(last) or datetime.min.replace(tzinfo=UTC))
        if added_after <= str(params["added_after"]):
            raise FeedFormatError(
                f"TAXII objects: X-TAXII-Date-Added-Last {last} does not advance the paging"
            )
        return {**query, "added_after": added_after}


def _page_tlp(objects: Sequence[Any]) -> dict[str, str]:
    """TLP marking ids known from the shared definitions and from marking definitions on the page."""
    markings = dict(TLP_MARKINGS)
    for obj in objects:
        if isinstance(obj, dict) and obj.get("type") == "marking-definition":
            definition = obj.get("definition")
            name = obj.get("name") or (definition.get("tlp") if isinstance(definition, dict) else None)
            if isinstance(name, str) and (
                obj.get("definition_type") == "tlp" or name.upper().startswith("TLP:")
            ):
                markings[str(obj.get("id"))] = name
    return markings


def split_records(page: FetchedPage) -> Sequence[Mapping[str, Any]]:
    """One record per indicator of an envelope, with the TLP labels of its markings."""
    envelope = load_json_page(page.body, "TAXII objects")
    objects = envelope.get("objects", []) if isinstance(envelope, dict) else None
    if not isinstance(objects, list):
        raise FeedFormatError("TAXII objects: the envelope has no 'objects' list")
    tlp = _page_tlp(objects)
    return [
        {
            "indicator": obj,
            "tlp_labels": [tlp[ref] for ref in obj.get("object_marking_refs") or [] if ref in tlp],
        }
        for obj in objects
        if isinstance(obj, dict) and obj.get("type") == "indicator"
    ]


def pattern_indicator(pattern: Any) -> tuple[IndicatorType, str]:
    """The indicator type and value of a single-comparison STIX pattern.

    :raises InvalidIndicator: ``unsupported_pattern`` for anything else, with the reason.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidIndicator("unsupported_pattern", "indicator has no pattern")
    match = _COMPARISON.match(pattern.strip())
    if match is None:
        raise InvalidIndicator(
            "unsupported_pattern", f"{pattern[:120]!r} is not a single '=' comparison of one observable"
        )
    obj, path = match["object"], match["path"]
    value = re.sub(r"\\(.)", r"\1", match["value"])
    if obj == "file" and path.startswith("hashes."):
        algorithm = path.removeprefix("hashes.").strip("'").upper().replace("-", "")
        if algorithm in _HASHES:
            return _HASHES[algorithm], value
    elif path == "value" and obj in _VALUE_TYPES:
        indicator_type = _VALUE_TYPES[obj]
        if indicator_type in (IndicatorType.IPV4, IndicatorType.IPV6) and "/" in value:
            indicator_type = IndicatorType.CIDR
        return indicator_type, value
    raise InvalidIndicator("unsupported_pattern", f"{obj}:{path} is not a supported observable")


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One STIX 2.1 indicator -> one observation (or ``unsupported_pattern``)."""
    indicator: Mapping[str, Any] = record["indicator"]
    pattern_type = indicator.get("pattern_type", "stix")
    if pattern_type != "stix":
        raise InvalidIndicator("unsupported_pattern", f"pattern_type {pattern_type!r} is not a STIX pattern")
    indicator_type, value = pattern_indicator(indicator.get("pattern"))
    metadata: dict[str, Any] = {key: indicator.get(key) for key in KEPT_FIELDS}
    metadata.update({key: context.get(key) for key in ("api_root", "collection")})
    labels: list[str] = list(record.get("tlp_labels") or [])
    confidence = indicator.get("confidence")
    return new_observation(
        {
            "indicator_type": indicator_type,
            "value": value,
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
