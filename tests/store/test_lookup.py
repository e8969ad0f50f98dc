"""``threatstream lookup``: type detection, canonicalisation, point reads, the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path

import pytest

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.cli import candidate_types, lookup, lookup_result, main
from threatstream.records.indicators import Observation
from threatstream.sources import scoring_policy
from threatstream.store.merged import MergedViewHook

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("94.156.8.244", ["IPv4"]),
        ("2a0d:5600:24:a::2", ["IPv6"]),
        ("94.156.8.0/24", ["CIDR"]),
        ("hXXp://x", ["URL"]),
        ("http://Evil.example/a", ["URL"]),
        ("cve-2024-3400", ["CVE"]),
        ("ops@evil.example", ["email"]),
        ("d41d8cd98f00b204e9800998ecf8427e", ["FileHash-MD5", "FileHash-IMPHASH", "JA3"]),
        ("A" * 64, ["FileHash-SHA256", "SSLCertFingerprint"]),
        (":".join(["ab"] * 20), ["SSLCertFingerprint"]),
        ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", ["BitcoinAddress"]),
        ("Evil.Example.COM.", ["domain", "hostname"]),
        ("evil[.]example[.]com", ["domain", "hostname"]),
        ("1.2.3[.]4", ["IPv4"]),
        ("user[at]evil.example", ["email"]),
        ("no type here", []),
    ],
)
def test_candidate_types(value: str, expected: list[str]) -> None:
    assert [kind.value for kind in candidate_types(value)] == expected


@pytest.fixture
def seeded(cosmos_database: str) -> MergedViewHook:
    """A merged view holding an IPv4 (two sources), a hostname and a URL."""
    hook = MergedViewHook(policy=scoring_policy())
    observations = [
        ("otx", Observation(indicator_type=IndicatorType.IPV4, value="94.156.8.244", tlp=TLP.GREEN)),
        ("abuseipdb", Observation(indicator_type=IndicatorType.IPV4, value="94.156.8.244", confidence=90)),
        ("otx", Observation(indicator_type=IndicatorType.HOSTNAME, value="cdn.evil.example")),
        (
            "urlhaus",
            Observation(indicator_type=IndicatorType.URL, value="HTTP://Evil.Example:80/it's%2fa\\b"),
        ),
    ]
    documents = [
        observation.to_indicator(source, ingested_at=NOW, default_ttl=timedelta(days=7)).to_document()
        for source, observation in observations
    ]
    assert hook.merge_documents(documents).failed == 0
    return hook


def test_lookup_canonicalises_and_point_reads(seeded: MergedViewHook) -> None:
    record = lookup(" 94.156.8.244 ")
    assert record is not None
    assert record["source_names"] == ["abuseipdb", "otx"]
    assert record["tlp"] == "green"
    assert 0 < record["current_score"] <= record["score"]
    assert not any(key.startswith("_") for key in record)
    # Any spelling the pipeline canonicalises finds the same record.
    url = lookup("http://EVIL.example/it's%2Fa\\b", "URL")
    assert url is not None
    assert url["indicator_value"] == "http://evil.example/it's%2Fa\\b"
    assert lookup("5.188.10.197") is None
    # Defanged and IPv4-mapped spellings reach the same records.
    for spelling, expected in (
        ("94.156.8[.]244", record),
        ("::ffff:94.156.8.244", record),
        ("hxxp://evil[.]example/it's%2fa\\b", url),
    ):
        found = lookup(spelling)
        assert found is not None
        assert found["id"] == expected["id"]


def test_ambiguous_types_are_tried_in_order(seeded: MergedViewHook) -> None:
    result = lookup_result("CDN.Evil.Example.")
    assert result.record is not None
    assert result.record["indicator_type"] == "hostname"
    assert result.tried == [("domain", "cdn.evil.example"), ("hostname", "cdn.evil.example")]


def test_a_value_that_cannot_be_canonicalised_is_an_error(seeded: MergedViewHook) -> None:
    with pytest.raises(InvalidIndicator) as caught:
        lookup("10.0.0.1")
    assert caught.value.reason == "non_global_ip"
    with pytest.raises(InvalidIndicator, match="unknown_type"):
        lookup("no type here")


def test_main_prints_text_and_json(seeded: MergedViewHook, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lookup", "94.156.8.244"]) == 0
    text = capsys.readouterr().out
    assert "IPv4 94.156.8.244" in text
    assert "- abuseipdb: reported" in text
    assert "confidence 90" in text
    assert main(["lookup", "94.156.8.244", "--type", "IPv4", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["record"]["source_count"] == 2
    assert printed["request_charge"] == 1.0  # one point read (the local server reports 1 RU each)
    assert main(["lookup", "5.188.10.197"]) == 1
    assert "not found (IPv4 5.188.10.197)" in capsys.readouterr().out
    assert main(["lookup", "10.0.0.1"]) == 2
    assert "non_global_ip" in capsys.readouterr().err


def test_the_text_names_the_warninglists_a_value_is_on() -> None:
    from threatstream.cli import LookupResult, render_text

    entry = {
        "source": "otx",
        "first_reported": "2026-12-01T00:00:00Z",
        "last_reported": "2026-12-01T00:00:00Z",
        "confidence": None,
        "tlp": None,
        "expires_at": "2026-12-08T00:00:00Z",
    }
    record = {
        "id": "IPv4:x",
        "indicator_type": "IPv4",
        "indicator_value": "8.8.8.8",
        "current_score": 7.0,
        "score": 7.2,
        "score_as_of": "2026-12-01T00:00:00Z",
        "source_count": 1,
        "source_names": ["otx"],
        "first_seen": "2026-12-01T00:00:00Z",
        "last_seen": "2026-12-01T00:00:00Z",
        "expires_at": "2026-12-08T00:00:00Z",
        "tags": [],
        "sources": [entry],
    }
    assert "warninglists" not in render_text(LookupResult(record=record))
    listed = render_text(LookupResult(record={**record, "warninglists": ["public-dns-v4"]}))
    assert "  warning    on MISP warninglists public-dns-v4: likely benign, scored lower" in listed


def test_python_dash_m_and_the_console_script(seeded: MergedViewHook) -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["threatstream"].split(":")
    assert getattr(import_module(module), function) is main
    completed = run_python(["-m", "threatstream.cli", "lookup", "94.156.8.244", "--json"], cli_env())
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout)["record"]["source_names"] == ["abuseipdb", "otx"]


def cli_env(**overrides: str | None) -> dict[str, str]:
    """The test environment for a CLI subprocess, with ``overrides`` (None removes a variable)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")])}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """This interpreter run with ``args`` in ``env``, its output captured as text."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


#: Runs the CLI's ``main`` and prints, after its output, which of airflow/azure it imported.
IMPORTS_PROBE = """
import json, sys
from threatstream.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exited:  # usage errors
    status = exited.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"airflow", "azure"})
print("IMPORTED " + json.dumps(loaded))
sys.exit(status)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["lookup", "no type here"],
        ["lookup", "10.0.0.1"],
        ["lookup", "x" * 100_000],
        ["lookup", "1.2.3.4", "--type", "NotAType"],
        ["lookup"],
    ],
    ids=["unknown_type", "non_global_ip", "100k_value", "bad_type", "no_value"],
)
def test_an_invalid_value_is_refused_before_airflow_or_azure_is_imported(args: list[str]) -> None:
    # No connection at all: the value is judged before anything looks for one.
    env = cli_env(AIRFLOW_CONN_THREATSTREAM_COSMOS=None)
    completed = run_python(["-c", IMPORTS_PROBE, *args], env)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert completed.stdout.splitlines()[-1] == "IMPORTED []"
    (line,) = completed.stderr.splitlines()
    assert len(line) <= 300
    assert "Traceback" not in completed.stderr


def test_a_10_mb_value_gets_a_short_error(capsys: pytest.CaptureFixture[str]) -> None:
    value = "a" * (10 * 1024 * 1024)
    assert main(["lookup", value]) == 2
    assert main(["lookup", "!" * 30_000]) == 2  # under the size bound: the type cannot be told
    captured = capsys.readouterr()
    first, second = captured.err.splitlines()
    assert "more than 65536" in first
    assert "unknown_type" in second
    assert "30000 characters" in second
    assert max(len(first), len(second)) <= 300
    assert captured.out == ""


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["lookup", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
        text = capsys.readouterr().out
        for line in (
            "0  found",
            "1  not found",
            "2  invalid value or usage",
            "3  store or configuration error",
        ):
            assert line in text
    import threatstream.cli

    assert "3: store or configuration error" in (threatstream.cli.__doc__ or "")
