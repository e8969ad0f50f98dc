"""How much to trust an indicator now: one score, 0-100, from every source that reports it.

The score is defined by :func:`score`, in the spirit of MISP's decaying models and
OpenCTI's indicator scores. For each source ``s`` that reports the value:

* ``c_s``: the source's confidence, 0-1 (the feed's own value / 100; when the feed gives
  none, the source's default from :attr:`ScoringPolicy.default_confidence`);
* ``w_s``: the source's weight, 0-1 (how much its reports are trusted at all; each source's
  :attr:`~threatstream.sources.base.SourceSpec.weight`, see ``sources.registry.scoring_policy``);
* ``d_s = 0.5 ** (age_s / half_life(type))``: recency decay, ``age_s`` being the time
  since the source last reported the value and the half-life depending on the indicator
  type (an IP address is reassigned within days, a file hash stays bad for years).

Each source gives the evidence ``p_s = w_s * c_s * d_s`` (0-1). Sources are combined with
noisy-OR, as independent witnesses: ``score = 100 * (1 - prod_s (1 - p_s))``, rounded to
one decimal. A second source can only raise the score; a source never pushes it past 100.

A value on a MISP warninglist (a known-benign value: a public resolver, a top domain, the
hash of an empty file; see ``docs/warninglists.md``) keeps only a fraction of that:
``score = 100 * (1 - prod_s (1 - p_s)) * f``, ``f`` being
:attr:`ScoringPolicy.warninglist_factor` (default 0.2), whichever list and however many.

Pure functions only: no I/O, no Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_POLICY",
    "ScoringPolicy",
    "SourceEvidence",
    "score",
]

DAY_SECONDS = 86_400.0

#: Days after which a report counts half as much, per indicator type.
DEFAULT_HALF_LIFE_DAYS: Mapping[str, float] = MappingProxyType(
    {
        "IPv4": 7,
        "IPv6": 7,
        "CIDR": 14,
        "URL": 14,
        "URI": 14,
        "domain": 30,
        "hostname": 30,
        "email": 60,
        "JA3": 90,
        "SSLCertFingerprint": 90,
        "BitcoinAddress": 180,
        "FileHash-MD5": 365,
        "FileHash-SHA1": 365,
        "FileHash-SHA256": 365,
        "FileHash-PEHASH": 365,
        "FileHash-IMPHASH": 365,
        "Mutex": 365,
        "FilePath": 365,
        "YARA": 365,
        "osquery": 365,
        "CVE": 730,
    }
)


@dataclass(frozen=True)
class ScoringPolicy:
    """The knobs of :func:`score`; the defaults are documented in ``docs/merged-view.md``."""

    source_weights: Mapping[str, float] = field(default_factory=dict)
    default_confidence: Mapping[str, int] = field(default_factory=dict)
    half_life_days: Mapping[str, float] = field(default_factory=lambda: DEFAULT_HALF_LIFE_DAYS)
    fallback_weight: float = 0.5
    fallback_confidence: int = 50
    fallback_half_life_days: float = 30.0
    #: Share of its score a value on a warninglist keeps (0-1).
    warninglist_factor: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 <= self.warninglist_factor <= 1.0:
            raise ValueError(f"warninglist_factor must be within 0-1, got {self.warninglist_factor}")
        for name, weight in {**self.source_weights, "<fallback>": self.fallback_weight}.items():
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"source weight of {name} must be within 0-1, got {weight}")
        for name, confidence in {**self.default_confidence, "<fallback>": self.fallback_confidence}.items():
            if not 0 <= confidence <= 100:
                raise ValueError(f"default confidence of {name} must be within 0-100, got {confidence}")
        for name, days in {**self.half_life_days, "<fallback>": self.fallback_half_life_days}.items():
            if not days > 0:
                raise ValueError(f"half-life of {name} must be positive, got {days}")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> ScoringPolicy:
        """Defaults overridden by ``settings`` (same keys as the fields; maps are merged)."""
        unknown = set(settings) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown scoring settings: {sorted(unknown)}")
        base = cls()
        return cls(
            source_weights={**base.source_weights, **settings.get("source_weights", {})},
            default_confidence={**base.default_confidence, **settings.get("default_confidence", {})},
            half_life_days={**base.half_life_days, **settings.get("half_life_days", {})},
            fallback_weight=float(settings.get("fallback_weight", base.fallback_weight)),
            fallback_confidence=int(settings.get("fallback_confidence", base.fallback_confidence)),
            fallback_half_life_days=float(
                settings.get("fallback_half_life_days", base.fallback_half_life_days)
            ),
            warninglist_factor=float(settings.get("warninglist_factor", base.warninglist_factor)),
        )

    def weight(self, source: str) -> float:
        return float(self.source_weights.get(source, self.fallback_weight))

    def confidence(self, source: str, reported: int | None) -> float:
        """The report's confidence as 0-1, the source's default when the feed gave none."""
        value = (
            reported
            if reported is not None
            else self.default_confidence.get(source, self.fallback_confidence)
        )
        return min(max(float(value), 0.0), 100.0) / 100.0

    def half_life_seconds(self, indicator_type: str) -> float:
        return float(self.half_life_days.get(indicator_type, self.fallback_half_life_days)) * DAY_SECONDS


DEFAULT_POLICY = ScoringPolicy()


@dataclass(frozen=True)
class SourceEvidence:
    """One source's report as the score sees it."""

    source: str
    confidence: int | None
    last_reported: datetime


def evidence(
    item: SourceEvidence, indicator_type: str, at: datetime, policy: ScoringPolicy = DEFAULT_POLICY
) -> float:
    """``w * c * d`` of one source at time ``at`` (0-1); a report from the future counts as now."""
    age = max((at - item.last_reported).total_seconds(), 0.0)
    decay: float = 0.5 ** (age / policy.half_life_seconds(indicator_type))
    return policy.weight(item.source) * policy.confidence(item.source, item.confidence) * decay


def score(
    sources: Iterable[SourceEvidence],
    indicator_type: str,
    at: datetime,
    policy: ScoringPolicy = DEFAULT_POLICY,
    *,
    warninglisted: bool = False,
) -> float:
    """The indicator's score at time ``at``: ``100 * (1 - prod(1 - w*c*d))`` over its sources,
    times :attr:`ScoringPolicy.warninglist_factor` when the value is on a warninglist.

    :param sources: each reporting source's confidence (None = the source's default) and
        when it last reported the value.
    :param indicator_type: selects the half-life of the recency decay.
    :param at: the time the score is for (the decay is measured up to it).
    :param warninglisted: the value is on at least one MISP warninglist.
    :returns: 0-100, one decimal; 0 when no source reports the value.
    """
    disbelief = 1.0
    for item in sources:
        disbelief *= 1.0 - evidence(item, indicator_type, at, policy)
    factor = policy.warninglist_factor if warninglisted else 1.0
    return round(100.0 * (1.0 - disbelief) * factor, 1)
