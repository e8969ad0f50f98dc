"""The ``[threatstream]`` settings: defaults, overrides, and bad values that name their option."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from threatstream.settings import SettingsError, ThreatStreamSettings, options, reference_table, settings

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.compat


@pytest.fixture(autouse=True)
def _no_configured_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the package's defaults (the session sets a storage base and a short retry delay)."""
    for option in options():
        monkeypatch.delenv(option.env_var, raising=False)


def test_defaults_without_any_configuration() -> None:
    assert settings() == ThreatStreamSettings()
    configured = settings()
    assert (configured.retention_days, configured.quarantine_retention_days) == (30.0, 90.0)
    assert (configured.retries, configured.use_pools, configured.alert_payload) == (3, False, "slack")
    assert configured.deadline_minutes is None
    assert configured.scoring_overrides() == {}


def test_env_vars_override_with_typed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__RETENTION_DAYS", "14")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__RETRIES", "5")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__USE_POOLS", "True")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__ALERT_PAYLOAD", "teams_workflow")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__SCORING", '{"source_weights": {"otx": 0.8}}')
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__STORAGE_CONN_ID", "threatstream_storage")
    configured = settings()
    assert configured.retention_days == 14.0
    assert configured.retries == 5
    assert configured.use_pools is True
    assert configured.alert_payload == "teams_workflow"
    assert configured.scoring_overrides() == {"source_weights": {"otx": 0.8}}
    assert configured.storage_conn_id == "threatstream_storage"


def test_an_empty_value_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__RETRIES", " ")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__MERGED_CONTAINER", "")
    assert (settings().retries, settings().merged_container) == (3, "indicators_merged")


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("retention_days", "a month", "must be a number"),
        ("retention_days", "0", "must be above 0"),
        ("retries", "2.5", "must be an integer"),
        ("feed_concurrency", "0", "must be at least 1"),
        ("warn_reject_ratio", "1.5", "must be at most 1"),
        ("retry_delay_seconds", "nan", "must be a finite number"),
        ("use_pools", "maybe", "must be true or false"),
        ("alert_payload", "email", "must be one of slack, teams_workflow"),
        ("scoring", "{not json", "is not JSON"),
        ("scoring", "[1, 2]", "must be a JSON object"),
    ],
)
def test_a_bad_value_fails_at_once_naming_the_option(
    monkeypatch: pytest.MonkeyPatch, option: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(f"AIRFLOW__THREATSTREAM__{option.upper()}", value)
    with pytest.raises(SettingsError, match=rf"\[threatstream\] {option} {re.escape(problem)}") as error:
        settings()
    assert f"AIRFLOW__THREATSTREAM__{option.upper()}" in str(error.value)


def test_per_dag_deadline_wins_over_the_global_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().deadline_minutes_for("otx") is None
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__DEADLINE_MINUTES", "90")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__OTX_DEADLINE_MINUTES", "0")
    assert (settings().deadline_minutes_for("otx"), settings().deadline_minutes_for("urlhaus")) == (0.0, 90.0)
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__OTX_DEADLINE_MINUTES", "-1")
    with pytest.raises(SettingsError, match=r"otx_deadline_minutes must be at least 0"):
        settings().deadline_minutes_for("otx")


def test_airflow_cfg_is_read_too(tmp_path: Path) -> None:
    """A plugins-folder deployment: ``airflow.cfg`` sets the section Airflow does not know."""
    (tmp_path / "airflow.cfg").write_text("[threatstream]\nretention_days = 7\nuse_pools = true\n")
    probe = "from threatstream.settings import settings; s = settings(); print(s.retention_days, s.use_pools)"
    env = {"AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": str(REPO / "plugins"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["7.0", "True"]


def test_every_option_is_declared_with_a_description_and_a_default_of_its_type() -> None:
    for option in options():
        assert option.spec.description.strip(), option.name
        assert option.parse(option.provider_entry()["default"]) == option.default, option.name


def test_the_merged_container_default_is_the_store_s() -> None:
    from threatstream.store.containers import DEFAULT_MERGED_CONTAINER

    assert ThreatStreamSettings().merged_container == DEFAULT_MERGED_CONTAINER


def test_importing_the_settings_loads_no_airflow() -> None:
    """DAG files import the settings; reading them is what loads Airflow's configuration."""
    probe = "import sys, threatstream.settings; print(any(m.startswith('airflow') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(REPO / "plugins"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_the_configuration_reference_in_the_docs_is_the_generated_one() -> None:
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- settings-table:start -->\n(.*?)<!-- settings-table:end -->", text, re.S)
    assert match, "no settings-table block in docs/operations.md"
    assert match.group(1).strip() == reference_table(), "regenerate it: python -m threatstream.settings"
