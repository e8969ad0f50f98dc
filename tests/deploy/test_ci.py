"""CI for adopters: the workflow runs what .ci/run runs; Dependabot watches every manifest."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_workflow_runs_tests_linters_compat_and_audit() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    commands = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    ci_run = (REPO / ".ci" / "run").read_text()
    for command in ("make test", "make lint", "make test-compat", "make audit"):
        assert any(c.startswith(command) for c in commands), command
        assert f"\n{command}\n" in ci_run, command


def test_dependabot_covers_python_npm_images_and_actions() -> None:
    updates = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())["updates"]
    watched = {(u["package-ecosystem"], u["directory"]) for u in updates}
    for directory in ("/dev/cosmos-emulator", "/dev/azurite"):
        assert ("npm", directory) in watched
        assert (REPO / directory.lstrip("/") / "package-lock.json").is_file()
    assert ("pip", "/") in watched
    assert ("pip", "/dev/compat") in watched
    assert {("docker", "/"), ("docker", "/deploy/compose"), ("github-actions", "/")} <= watched


def test_compat_locks_cover_requirements_txt() -> None:
    """A dependency added to requirements.txt needs `make lock-compat` (and `make mwaa-constraints`)."""

    needed = {
        re.split(r"[<>=\[;\s]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    locks = sorted((REPO / "dev" / "compat").glob("requirements-compat-*.txt"))
    assert len(locks) >= 3
    for lock in locks:
        pinned = set(re.findall(r"^([A-Za-z0-9_.-]+)==", lock.read_text(), re.M))
        pinned = {name.lower().replace("_", "-") for name in pinned}
        assert needed <= pinned, f"{lock.name} lacks {needed - pinned}: run make lock-compat"
        assert "apache-airflow==" + lock.stem.removeprefix("requirements-compat-") in lock.read_text()
