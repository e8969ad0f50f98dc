"""CISA Known Exploited Vulnerabilities (KEV): the catalogue of CVEs exploited in the wild.

Contract relied on (docs/sources.md; CISA's catalogue page, OpenCTI's KEV connector tests,
many public clients): one JSON file,
``https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json``
(mirror: ``raw.githubusercontent.com/cisagov/kev-data/main/...``), no key, no rate limit,
about 2 MB, updated on working days: ``{title, catalogVersion, dateReleased, count,
vulnerabilities: [{cveID, vendorProject, product, vulnerabilityName, dateAdded
("YYYY-MM-DD"), shortDescription, requiredAction, dueDate, knownRansomwareCampaignUse
("Known"|"Unknown"), notes, cwes: [...]}]}``.

The catalogue has no delta: each run stores all of it (entries are rarely removed), and a
``count`` that disagrees with the list fails the run as a truncated download. Backfill runs
skip. ``dateAdded`` is ``first_seen``; due date, vendor/product, ransomware use, CWEs and the
required action go to ``raw_metadata``; ``ransomware`` is a tag when the use is ``Known``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.naming import airflow_name
from threatstream.parsing.json_stream import load_json_page
from threatstream.parsing.string_lists import string_list
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.base import SourceSpec

CATALOG = "sites/default/files/feeds/known_exploited_vulnerabilities.json"
KEPT_FIELDS = (
    "vendorProject",
    "product",
    "vulnerabilityName",
    "dateAdded",
    "dueDate",
    "knownRansomwareCampaignUse",
    "requiredAction",
    "shortDescription",
    "notes",
)
CATALOG_FIELDS = ("catalogVersion", "dateReleased")


class CisaKevHook(FeedHook):
    """Download client of the KEV catalogue (no key).

    :param http_conn_id: connection with schema/host/port = ``https://www.cisa.gov``.
    """

    default_conn_name = airflow_name("cisa_kev")
    hook_name = "CISA KEV"
    key_required = False

    def iter_pages(self, window: FetchWindow, **_: Any) -> Iterator[FetchedPage]:
        """Yield the catalogue (one file), with its version and release date as context."""
        body = self.get(CATALOG).content
        catalog = load_json_page(body, "CISA KEV catalogue")
        context = {k: catalog.get(k) for k in CATALOG_FIELDS} if isinstance(catalog, dict) else {}
        yield FetchedPage(body=body, context=context)


def split_records(page: FetchedPage) -> Sequence[Mapping[str, Any]]:
    """The catalogue's vulnerabilities; a ``count`` that disagrees means a truncated file."""
    body = load_json_page(page.body, "CISA KEV catalogue")
    vulnerabilities = body.get("vulnerabilities") if isinstance(body, dict) else None
    if not isinstance(vulnerabilities, list):
        raise FeedFormatError("CISA KEV catalogue: expected a 'vulnerabilities' list")
    count = body.get("count")
    if isinstance(count, int) and count != len(vulnerabilities):
        raise FeedFormatError(
            f"CISA KEV catalogue: 'count' says {count} but the file lists {len(vulnerabilities)} entries"
        )
    return vulnerabilities


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One catalogue entry -> one CVE observation."""
    cve = record.get("cveID")
    if not isinstance(cve, str) or not cve.strip():
        raise InvalidIndicator("empty", "entry has no cveID")
    ransomware = record.get("knownRansomwareCampaignUse")
    metadata: dict[str, Any] = {key: record.get(key) for key in KEPT_FIELDS}
    metadata["cwes"] = list(string_list(record.get("cwes")))
    metadata.update({key: context.get(key) for key in CATALOG_FIELDS})
    return new_observation(
        {
            "indicator_type": IndicatorType.CVE,
            "value": cve,
            "tags": ("known-exploited", "ransomware") if ransomware == "Known" else ("known-exploited",),
            "tlp": TLP.CLEAR,
            "first_seen": parse_timestamp(record.get("dateAdded")),
            "raw_metadata": metadata,
        }
    )


CISA_KEV = SourceSpec(
    name="cisa_kev",
    title="CISA Known Exploited Vulnerabilities",
    hook_class=CisaKevHook,
    split_records=split_records,
    parse_record=parse_record,
    schedule="30 6 * * *",
    default_ttl=timedelta(days=30),
    description=__doc__ or "",
    weight=1.0,
    default_confidence=100,
)
