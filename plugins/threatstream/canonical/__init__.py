"""Canonical forms of indicator values, and where the documents holding them are stored.

Every source maps its raw values through
:func:`~threatstream.canonical.dispatch.canonical_indicator` before anything is stored, so the
same indicator reported by several sources (or twice by one, spelt differently, or defanged)
ends up with the same type, the same canonical value and the same document keys
(:mod:`~threatstream.canonical.identity`).

Canonicalisation may change the type: an absolute http(s)/ftp(s) ``URI`` is a ``URL``, and an
IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is the ``IPv4`` address it carries.

Pure functions only: no I/O, no Airflow. Every canonicaliser is idempotent on the
(type, value) pair it returns; a value that cannot be made canonical raises
:class:`~threatstream.canonical.errors.InvalidIndicator` with a short machine-friendly
``reason`` (all listed in ``REASONS`` and explained in ``docs/canonical.md``).

Modules, lowest first: ``vocabulary`` (indicator types, TLP), ``errors``, ``text`` (result type,
input checks, size limits), ``refang``, one per type family (``addresses``, ``hostnames``,
``urls``, ``hashes``, ``identifiers``), ``dispatch`` (any type) and ``identity`` (document keys).
"""
