"""Generic CSV / plain-list feeds, each configured by a small declarative spec, no Python.

A spec is one JSON file in ``include/feeds/lists/`` (or the directory named by the
``THREATSTREAM_LIST_SPECS`` environment variable); ``dags/threatstream_lists.py`` builds one
DAG per spec through the same factory as every other source, with its own connection
``threatstream_<name>`` (base URL, and the key in the password field if the feed needs one).
A spec that does not validate fails the DAG file's import with the file name and the reason.
Keys (see :class:`~threatstream.sources.lists.spec.ListSpec`):

``name``, ``title``, ``description``; ``endpoint`` (path and query below the connection's
base URL) and ``base_url`` (the public base URL, for the docs); ``format`` (``csv`` or
``lines``); ``comment_prefix`` (``#``); ``columns`` (CSV column names; omitted: the first
row that is not a comment is the header); ``delimiter``; ``skip_initial_space`` (for
``", "``-separated files); ``null_values``; ``value`` (``{"column": name or 0-based index,
"regex": ...}``: a regex's named group ``value`` is the indicator, its other named groups go
to ``raw_metadata``; a line that does not match is quarantined); ``indicator_type`` (fixed)
*or* ``type_column`` plus ``type_map`` (feed label -> type, or ``{"type", "regex"}`` for a
label whose value needs its own regex, e.g. ``ip:port``); ``first_seen``, ``last_seen``,
``confidence`` (field specs like ``value``); ``tags`` (one field spec or a list of them, each
with an optional ``separator``, default ``tags_separator``, ``""`` for a whole cell, and
``exclude``, values that are no tag); ``static_tags``; ``metadata_columns``; ``tlp``;
``auth_header`` and ``key_required``; ``ttl_days``; ``schedule`` (cron);
``max_reject_ratio``; ``weight`` and ``default_confidence`` (the merged score);
``max_body_bytes``, ``max_record_bytes`` and ``max_line_bytes``.

Regexes run on RE2, in time linear in the input whatever the pattern; a pattern RE2 cannot
run (backreferences, lookaround) fails the spec when it is loaded. The list is streamed:
fetch stores it while counting its records, validate reads it back record by record, so
memory stays flat. A UTF-8 byte-order mark is dropped; CSV is parsed as CSV (a quoted cell
may span lines); ``\\n``, ``\\r\\n`` and ``\\r`` end lines.

Lists are snapshots (backfill runs skip). IPv4/IPv6 values are typed by the address itself.
Each record fails alone: a row with the wrong number of columns (a feed that added a column)
is quarantined as ``malformed_row``, so a changed layout turns the run red through the
reject ratio instead of storing shifted fields; a record beyond ``max_record_bytes`` is
quarantined as ``record_too_large`` with its first bytes. A line (or a quoted record) beyond
``max_line_bytes`` is no list in the spec's format: the run fails with
:class:`~threatstream.exceptions.FeedFormatError`, without retry.
"""

from __future__ import annotations

from threatstream.sources.lists.source import list_sources, to_source
from threatstream.sources.lists.spec import ListSpec, ListSpecError, load_list_specs, specs_dir

__all__ = ["ListSpec", "ListSpecError", "list_sources", "load_list_specs", "specs_dir", "to_source"]
