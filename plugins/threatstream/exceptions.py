"""Errors raised by ThreatStream, classified by what Airflow should do about them.

Subclasses of :class:`~airflow.sdk.exceptions.AirflowFailException` fail the task at once,
without retries: retrying cannot fix a revoked key or a feed whose schema changed.
Everything else is transient and left to tenacity inside the hook and then Airflow's retries.
"""

from __future__ import annotations

from threatstream.compat import AirflowException, AirflowFailException


class ThreatStreamError(AirflowException):
    """Base class of transient ThreatStream errors (the task is retried)."""


class FeedUnavailableError(ThreatStreamError):
    """The feed answered with a transient error (5xx, 429, timeout) after all in-task attempts."""


class StoreWriteError(ThreatStreamError):
    """Some indicators could not be written to the store; the whole upsert is safe to rerun."""


class ConnectionMissingError(AirflowFailException):
    """An Airflow connection the task needs is not defined anywhere (a configuration error)."""


class FeedAuthError(AirflowFailException):
    """The feed rejected the credentials of the connection (401/403 or equivalent)."""


class FeedQuotaExhausted(AirflowFailException):
    """The feed's quota is used up for longer than a task should wait; the next run retries."""


class FeedRequestError(AirflowFailException):
    """The feed rejected the request itself (a 4xx other than auth and rate limiting)."""


class FeedFormatError(AirflowFailException):
    """A response page does not have the shape the parser expects (schema drift)."""


class FeedRedirectError(AirflowFailException):
    """A redirect or pagination link points away from the connection's scheme, host and port.

    Following it would send the feed's API key to another host, so the request fails at once.
    """


class FeedOptionError(AirflowFailException, ValueError):
    """A fetch option or feed setting has a value the feed cannot take (names the option)."""


class FeedLimitExceeded(AirflowFailException):
    """A feed sent more than a configured bound allows (pages or records per run)."""


class FeedTooLargeError(FeedLimitExceeded):
    """A response body is larger than the source's ``max_body_bytes`` (after decompression)."""


class BatchIntegrityError(AirflowFailException):
    """A stored batch file no longer matches the digest recorded when it was written."""


class RejectRatioExceeded(AirflowFailException):
    """Too many records were rejected by validation: the feed probably changed shape."""


class StoreAuthError(AirflowFailException):
    """The store rejected the credentials of the connection."""


class StoreRefusedError(AirflowFailException):
    """The store refused too many documents for their own content (400/413): retrying cannot help."""


class StoragePathError(AirflowFailException, ValueError):
    """A batch URI names a place outside the configured storage base: refused before it is opened."""


class BatchFormatError(AirflowFailException, ValueError):
    """A stored batch file is not JSON lines within its bounds (e.g. a line that never ends)."""
