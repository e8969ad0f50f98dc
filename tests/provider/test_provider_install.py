"""End to end: the wheel, installed with pip, is an Airflow provider.

The wheel is built from a copy of the package, installed without dependencies into a
throwaway virtualenv that reuses the locked ones (a ``.pth`` file naming this interpreter's
site-packages: ``--system-site-packages`` would expose the base Python's, not the lock's),
and Airflow runs there in a subprocess with an empty AIRFLOW_HOME and no plugins folder.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
from dataclasses import asdict
from pathlib import Path

import pytest

from threatstream.settings import ThreatStreamSettings

REPO = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]

pytestmark = pytest.mark.slow

_PROBE = """
import json, logging, sys
logging.basicConfig(level=logging.WARNING)
import threatstream
from airflow.providers_manager import ProvidersManager
from threatstream.settings import settings
manager = ProvidersManager()
hook = manager.hooks["threatstream_feed"]
print(json.dumps({
    "package_file": threatstream.__file__,
    "hook": [hook.hook_class_name, hook.connection_id_attribute_name, hook.package_name],
    "behaviour": manager.field_behaviours["threatstream_feed"],
    "widgets": sorted(name for name in manager.connection_form_widgets if "threatstream_feed" in name),
    "configs": [package for package, _ in manager.provider_configs],
    "settings": settings().__dict__,
}))
"""


def _run(python: Path, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=True
    )


def _build_wheel(source: Path, dist: Path) -> Path:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv:
        command = [uv, "build", "--wheel", "-q", "-o", str(dist), str(source)]
    else:
        command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)]
    subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    (wheel,) = dist.glob("threatstream-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(python of the virtualenv, the environment to run Airflow in, a neutral working dir)."""
    root = tmp_path_factory.mktemp("provider")
    source = root / "src"
    shutil.copytree(
        REPO / "plugins" / "threatstream",
        source / "plugins" / "threatstream",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    wheel = _build_wheel(source, root / "dist")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", env={}, cwd=root
    )
    locked = [*site.getsitepackages(), site.getusersitepackages()]
    (Path(purelib.stdout.strip()) / "locked-deps.pth").write_text("\n".join(locked) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )

    home, empty = root / "airflow-home", root / "empty"
    home.mkdir()
    empty.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(empty),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(empty),
    }
    return python, env, empty


def test_airflow_lists_the_provider(installed: tuple[Path, dict[str, str], Path]) -> None:
    python, env, cwd = installed
    listed = json.loads(
        _run(python, "-m", "airflow", "providers", "list", "-o", "json", env=env, cwd=cwd).stdout
    )
    assert {"package_name": "threatstream", "version": VERSION}.items() <= next(
        provider for provider in listed if provider["package_name"] == "threatstream"
    ).items()


def test_connection_type_form_and_settings(installed: tuple[Path, dict[str, str], Path]) -> None:
    python, env, cwd = installed
    result = _run(python, "-c", _PROBE, env=env, cwd=cwd)
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert "/venv/" in probe["package_file"], "the installed wheel, not the repository, was imported"
    assert probe["hook"] == ["threatstream.feeds.hook.FeedHook", "http_conn_id", "threatstream"]
    assert probe["behaviour"]["relabeling"]["password"] == "API key"
    assert "login" in probe["behaviour"]["hidden_fields"]
    assert "extra__threatstream_feed__max_body_bytes" in probe["widgets"]
    assert "threatstream" in probe["configs"]
    # With the provider's section loaded, the settings still come out as their one definition.
    assert probe["settings"] == asdict(ThreatStreamSettings())
    assert "Inconsistency" not in result.stderr
    assert "FeedHook" not in result.stderr


def test_config_list_shows_the_section_with_defaults(installed: tuple[Path, dict[str, str], Path]) -> None:
    python, env, cwd = installed
    env = {**env, "AIRFLOW__THREATSTREAM__RETENTION_DAYS": "14"}
    listed = _run(
        python,
        "-m",
        "airflow",
        "config",
        "list",
        "--section",
        "threatstream",
        "--show-values",
        env=env,
        cwd=cwd,
    ).stdout
    lines = {line.strip() for line in listed.splitlines()}
    assert "[threatstream]" in lines
    assert {"retention_days = 14", "retries = 3", "alert_payload = slack", "use_pools = False"} <= lines
    assert "merged_container = indicators_merged" in lines
