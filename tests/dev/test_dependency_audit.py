"""The dependency audit's verdicts on pip-audit reports."""

from __future__ import annotations

from threatstream_dev.dependency_audit import summarize


def test_vulnerable_packages_are_reported() -> None:
    result = summarize(
        {
            "dependencies": [
                {"name": "requests", "version": "2.5.0", "vulns": [{"id": "PYSEC-2015-1"}, {"id": "GHSA-x"}]},
                {"name": "idna", "version": "3.10", "vulns": []},
                {"name": "local-only", "skip_reason": "Dependency not found on PyPI"},
            ]
        }
    )
    assert result.answered
    assert (result.audited, result.skipped) == (2, 1)
    assert result.vulnerable == {"requests==2.5.0": ["PYSEC-2015-1", "GHSA-x"]}


def test_a_service_that_answers_for_nothing_is_a_skip_not_a_clean_audit() -> None:
    result = summarize({"dependencies": [{"name": "a", "skip_reason": "not found"}] * 3})
    assert not result.answered
    assert result.vulnerable == {}
