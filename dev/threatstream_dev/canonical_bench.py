"""Throughput of canonicalisation and ``Observation.to_indicator`` on generated feed values.

Generates ~100k values per feed shape (URLhaus URLs, OTX mixed types, AbuseIPDB addresses),
then measures, in CPU time of this process:

* ``canonicalize``: the value canonicaliser alone;
* ``to_indicator``: building the :class:`Observation` and its stored document through the
  model (``to_indicator(...).to_document()``);
* ``to_document``: the same document built directly (``Observation.to_document``, what
  ``validate`` does per record; the older code falls back to the model path).

No assertion on absolute numbers: this prints a table to compare two versions of the code::

    PYTHONPATH=plugins:dev .venv/bin/python -m threatstream_dev.canonical_bench --records 100000
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from threatstream.canonical.dispatch import canonicalize
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.records.indicators import Observation

INGESTED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
TTL = timedelta(days=30)
_WORDS = ("update", "cdn", "files", "login", "secure", "bins", "panel", "api", "static", "dl")
_TLDS = ("com", "net", "org", "ru", "xyz", "top", "info", "cn", "de", "io")
_FILES = ("mozi.m", "i", "x86", "bot.arm7", "sh", "payload.exe", "invoice.doc", "a.zip")


def _global_ipv4(rng: random.Random) -> str:
    while True:
        first = rng.randint(1, 223)
        if first not in (10, 100, 127, 169, 172, 192, 198, 203):
            return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _global_ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0x2400, 0x2A0F):x}", *(f"{rng.randint(0, 0xFFFF):x}" for _ in range(3))]
    return ":".join(groups) + "::" + f"{rng.randint(1, 0xFFFF):x}"


def _hostname(rng: random.Random) -> str:
    labels = [
        rng.choice(_WORDS) + "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(3, 9)))
        for _ in range(rng.randint(1, 3))
    ]
    return ".".join([*labels, rng.choice(_TLDS)])


def _url(rng: random.Random) -> str:
    host = _global_ipv4(rng) if rng.random() < 0.6 else _hostname(rng)
    port = f":{rng.choice((80, 8080, 443, 81, 5555))}" if rng.random() < 0.4 else ""
    path = "/".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 3)))
    query = f"?id={rng.randint(1, 99999)}&k=%2f{rng.randint(1, 9)}" if rng.random() < 0.2 else ""
    scheme = "https" if rng.random() < 0.3 else "http"
    return f"{scheme}://{host}{port}/{path}/{rng.choice(_FILES)}{query}"


def urlhaus_values(n: int, rng: random.Random) -> list[tuple[IndicatorType, str]]:
    return [(IndicatorType.URL, _url(rng)) for _ in range(n)]


def abuseipdb_values(n: int, rng: random.Random) -> list[tuple[IndicatorType, str]]:
    return [
        (IndicatorType.IPV6, _global_ipv6(rng))
        if rng.random() < 0.05
        else (IndicatorType.IPV4, _global_ipv4(rng))
        for _ in range(n)
    ]


def otx_values(n: int, rng: random.Random) -> list[tuple[IndicatorType, str]]:
    makers: Sequence[tuple[float, Callable[[], tuple[IndicatorType, str]]]] = (
        (0.25, lambda: (IndicatorType.DOMAIN, _hostname(rng))),
        (0.15, lambda: (IndicatorType.HOSTNAME, _hostname(rng))),
        (0.20, lambda: (IndicatorType.IPV4, _global_ipv4(rng))),
        (0.15, lambda: (IndicatorType.URL, _url(rng))),
        (0.10, lambda: (IndicatorType.FILEHASH_SHA256, rng.randbytes(32).hex())),
        (0.07, lambda: (IndicatorType.FILEHASH_MD5, rng.randbytes(16).hex().upper())),
        (0.03, lambda: (IndicatorType.CVE, f"cve-20{rng.randint(10, 26)}-{rng.randint(1000, 99999)}")),
        (0.03, lambda: (IndicatorType.EMAIL, f"{rng.choice(_WORDS)}@{_hostname(rng)}")),
        (0.02, lambda: (IndicatorType.URI, f"/{rng.choice(_WORDS)}/{rng.choice(_FILES)}")),
    )
    weights = [weight for weight, _ in makers]
    return [rng.choices(makers, weights)[0][1]() for _ in range(n)]


MIXES: dict[str, Callable[[int, random.Random], list[tuple[IndicatorType, str]]]] = {
    "urlhaus": urlhaus_values,
    "otx": otx_values,
    "abuseipdb": abuseipdb_values,
}


def _cpu(func: Callable[[], int]) -> tuple[float, int]:
    start = time.process_time()
    ok = func()
    return time.process_time() - start, ok


def _documents(values: Sequence[tuple[IndicatorType, str]], source: str, *, direct: bool) -> int:
    """Observation -> stored document for every value; the number accepted."""
    ok = 0
    to_document = getattr(Observation, "to_document", None) if direct else None
    for kind, value in values:
        try:
            observation = Observation(
                indicator_type=kind, value=value, tags=("elf", "mozi"), raw_metadata={"k": "v"}
            )
            if to_document is None:
                observation.to_indicator(source, ingested_at=INGESTED, default_ttl=TTL).to_document()
            else:
                to_document(observation, source, ingested_at=INGESTED, default_ttl=TTL)
        except InvalidIndicator:
            continue
        ok += 1
    return ok


def measure(values: Sequence[tuple[IndicatorType, str]], source: str) -> tuple[float, float, float, int]:
    """Per CPU-second: values canonicalised, ``to_indicator().to_document()``, ``to_document()``."""

    def run_canonicalize() -> int:
        ok = 0
        for kind, value in values:
            try:
                canonicalize(kind, value)
            except InvalidIndicator:
                continue
            ok += 1
        return ok

    canon_s, accepted = _cpu(run_canonicalize)
    indicator_s, _ = _cpu(lambda: _documents(values, source, direct=False))
    document_s, _ = _cpu(lambda: _documents(values, source, direct=True))
    return len(values) / canon_s, len(values) / indicator_s, len(values) / document_s, accepted


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    header = f"{'mix':<10} {'values':>8} {'accepted':>9} {'canonicalize/s':>15} {'to_indicator/s':>15}"
    print(f"{header} {'to_document/s':>15}")
    for name, make in MIXES.items():
        values = make(args.records, random.Random(args.seed))  # noqa: S311 - reproducible test data
        canon, indicator, document, accepted = measure(values, name)
        rates = f"{canon:>15,.0f} {indicator:>15,.0f} {document:>15,.0f}"
        print(f"{name:<10} {len(values):>8} {accepted:>9} {rates}")


if __name__ == "__main__":
    main()
