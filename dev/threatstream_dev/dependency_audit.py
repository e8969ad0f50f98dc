"""Audit a hashed lock file for known vulnerabilities with pip-audit, where the service answers.

``python -m threatstream_dev.dependency_audit requirements-lock.txt`` exits 1 when a locked
package has a known vulnerability, 0 when none has, and 0 with a notice when the
vulnerability service answered for no package at all (offline, or a registry mirror without
PyPI's JSON API): the audit is skipped then, never reported as clean.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class AuditResult:
    """What pip-audit found for one lock file."""

    audited: int = 0
    skipped: int = 0
    vulnerable: dict[str, list[str]] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.audited > 0


def summarize(report: dict[str, Any]) -> AuditResult:
    """Pure: count a pip-audit JSON report (``-f json``)."""
    result = AuditResult()
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            result.skipped += 1
            continue
        result.audited += 1
        ids = [vuln["id"] for vuln in dependency.get("vulns", [])]
        if ids:
            result.vulnerable[f"{dependency['name']}=={dependency.get('version', '?')}"] = ids
    return result


def run_pip_audit(lock: Path, timeout: float = 600) -> dict[str, Any]:
    executable = shutil.which("pip-audit", path=str(Path(sys.executable).parent)) or shutil.which("pip-audit")
    if executable is None:
        raise SystemExit("pip-audit is not installed (it is in requirements-dev.in)")
    command = [executable, "-r", str(lock), "--disable-pip", "--require-hashes"]
    command += ["--progress-spinner", "off", "-f", "json"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        report: dict[str, Any] = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"pip-audit failed (exit {completed.returncode}): {completed.stderr[-2000:]}"
        ) from None
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("lock", type=Path, nargs="?", default=Path("requirements-lock.txt"))
    args = parser.parse_args(argv)
    result = summarize(run_pip_audit(args.lock))
    if not result.answered:
        print(
            f"dependency audit of {args.lock} skipped: the vulnerability service answered for none of "
            f"{result.skipped} packages (offline or a registry mirror without PyPI's JSON API)"
        )
        return 0
    for package, ids in sorted(result.vulnerable.items()):
        print(f"VULNERABLE {package}: {', '.join(ids)}")
    print(
        f"dependency audit of {args.lock}: {result.audited} packages audited, {result.skipped} skipped, "
        f"{len(result.vulnerable)} with known vulnerabilities"
    )
    return 1 if result.vulnerable else 0


if __name__ == "__main__":
    raise SystemExit(main())
