"""MISP feeds (the MISP feed format: ``manifest.json`` plus one ``<uuid>.json`` per event), each
configured by a small declarative spec, no Python.

A spec is one JSON file in ``include/feeds/misp/`` (or the directory named by the
``THREATSTREAM_MISP_SPECS`` environment variable); ``dags/threatstream_misp.py`` builds one DAG
per spec through the same factory as every other source, with its own connection
``threatstream_<name>`` (base URL; a key in the password field if the feed needs one). Keys
(see :class:`~threatstream.sources.misp.spec.MispFeedSpec`): ``name``, ``title``,
``description``; ``endpoint`` (the feed's folder below the connection's base URL) and
``base_url`` (the public base URL, for the docs); ``manifest`` (``manifest.json``);
``to_ids_only`` (default true: attributes with ``to_ids`` false are not read); ``types``
(MISP type -> indicator type, over the default map; null unmaps a type); ``tlp`` (for events
and attributes without a ``tlp:`` tag); ``static_tags``; ``auth_header`` and
``key_required``; ``ttl_days``; ``schedule``; ``max_reject_ratio``; ``weight`` and
``default_confidence``; ``max_manifest_bytes``, ``max_event_bytes`` and
``max_events_per_run``.

Each run reads the manifest and fetches only the events whose manifest ``timestamp``
differs from the bookmark (new or changed), oldest change first, at most
``max_events_per_run`` (the rest wait for the next run); an event file that answers 404 is
skipped and asked for again by the next run. The bookmark is the state stored
with the batch of the last run whose upsert succeeded (:mod:`.bookmark`), so a failed or dry
run moves nothing. Each event is streamed: ``Event.Attribute`` and
``Event.Object[].Attribute`` are built one attribute at a time. A changed event is fetched
whole again: its remaining attributes are refreshed, and those removed from it are no longer
written (their ``ingested_at`` stops advancing and their TTL runs out).

Mapping (:mod:`.mapping`, pure): ``ip-src``/``ip-dst`` (IPv4, IPv6, or CIDR with a prefix),
``ip-*|port`` (the port to ``raw_metadata``), ``domain``, ``hostname``, ``hostname|port``,
``domain|ip`` (two indicators), ``url``, ``uri``, ``md5``/``sha1``/``sha256``/``imphash``/
``pehash``, ``filename|<hash>`` and ``malware-sample`` (the hash; the file name to
``raw_metadata``), ``filename`` (FilePath), ``email``/``email-src``/``email-dst``/
``email-reply-to``, ``ja3-fingerprint-md5`` (JA3), ``btc``, ``vulnerability`` (CVE),
``mutex``, ``yara``, ``x509-fingerprint-md5/sha1/sha256`` (SSLCertFingerprint). Other types
are quarantined as ``unsupported_type``, deleted attributes (or attributes of a deleted
object) as ``deleted``, values that do not fit their type as ``malformed_attribute`` or the
canonical reason. The attribute's ``tlp:`` tag wins over the event's (the most restrictive
of several), then the spec's ``tlp``; other event and attribute tags are tags. ``first_seen``
is the attribute's (else the event ``date``), ``last_seen`` the attribute's ``last_seen``,
else its ``timestamp`` (its last change: the last report).
"""

from __future__ import annotations

from threatstream.sources.misp.source import is_misp_source, misp_sources, to_source
from threatstream.sources.misp.spec import MispFeedSpec, MispSpecError, load_misp_specs, specs_dir

__all__ = [
    "MispFeedSpec",
    "MispSpecError",
    "is_misp_source",
    "load_misp_specs",
    "misp_sources",
    "specs_dir",
    "to_source",
]
