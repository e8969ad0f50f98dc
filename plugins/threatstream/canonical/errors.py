"""Why a value is not an indicator: :class:`InvalidIndicator` and every reason it may give.

Each ``reason`` is a short machine-friendly code, explained in ``docs/canonical.md``.
"""

from __future__ import annotations

#: Every ``InvalidIndicator.reason`` canonicalisation can produce.
REASONS: frozenset[str] = frozenset(
    {
        "not_a_string",
        "empty",
        "control_character",
        "unknown_type",
        "too_long",
        "invalid_url",
        "invalid_host",
        "invalid_hostname",
        "not_a_hostname",
        "invalid_ip",
        "ip_version_mismatch",
        "invalid_cidr",
        "non_global_ip",
        "invalid_hash",
        "invalid_cve",
        "invalid_email",
        "invalid_bitcoin_address",
    }
)


class InvalidIndicator(ValueError):
    """A value that cannot be canonicalised; ``reason`` is a short machine-friendly code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidIndicator], tuple[str, str]]:
        # Keep the exception picklable (Airflow / multiprocessing) despite the two-arg __init__.
        return (type(self), (self.reason, self.message))


def excerpt(value: str, limit: int = 80) -> str:
    """A bounded repr of ``value`` for error messages."""
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + "..."
