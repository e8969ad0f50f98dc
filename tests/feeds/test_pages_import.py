"""The page types load without the HTTP stack, so parsers and validation do not pay for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
HTTP_STACK = ("requests", "urllib3", "threatstream.feeds.hook")


@pytest.mark.parametrize("module", ["threatstream.feeds.pages", "threatstream.feeds.limits"])
def test_importing_leaves_the_http_stack_unloaded(module: str) -> None:
    probe = (
        f"import sys; import {module}; "
        f"print(','.join(name for name in {HTTP_STACK!r} if name in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=PLUGINS,
        timeout=120,
    ).stdout.strip()
    assert loaded == "", f"importing {module} loaded {loaded}"
