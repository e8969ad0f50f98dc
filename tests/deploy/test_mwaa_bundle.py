"""The MWAA bundle: built from the repository, in the layout MWAA reads from S3."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTAINER_SETTINGS = REPO / "plugins" / "threatstream" / "store" / "container_settings"
sys.path.insert(0, str(REPO / "deploy" / "mwaa"))

import build_bundle  # noqa: E402

VERSION = "3.0.6"
STORAGE_BASE = "s3://threatstream-test-bucket/batches/"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle.build(tmp_path_factory.mktemp("mwaa") / "bundle", VERSION, STORAGE_BASE)


def _run_python(code: str, python_path: Path, **env: str) -> str:
    """What ``code`` prints, run with only ``python_path`` for the package (no settings override)."""
    environment = {k: v for k, v in os.environ.items() if k != "THREATSTREAM_CONTAINER_SETTINGS"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**environment, "PYTHONPATH": str(python_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def _requirements(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_layout(bundle: Path) -> None:
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    dag_files = {f"dags/{p.name}" for p in (REPO / "dags").glob("*.py")}
    assert files == dag_files | {
        f"dags/constraints-{VERSION}.txt",
        "plugins.zip",
        "requirements.txt",
        "startup.sh",
    }


def test_plugins_zip_holds_the_package_and_its_airflowignore(bundle: Path) -> None:
    with zipfile.ZipFile(bundle / "plugins.zip") as archive:
        names = set(archive.namelist())
        assert archive.read(".airflowignore").decode().split() == ["threatstream/"]
        shipped = {name: archive.read(name) for name in names}
    package = {
        p.relative_to(REPO / "plugins").as_posix()
        for p in (REPO / "plugins" / "threatstream").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert package <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # Both containers' settings, as package data; the list specs, from include/.
    settings = sorted(CONTAINER_SETTINGS.glob("*.json"))
    assert [p.name for p in settings] == ["container.json", "merged_container.json"]
    for path in settings:
        assert shipped[path.relative_to(REPO / "plugins").as_posix()] == path.read_bytes(), path
    list_specs = sorted((REPO / "include" / "feeds" / "lists").glob("*.json"))
    assert list_specs
    for path in list_specs:
        assert shipped[path.relative_to(REPO).as_posix()] == path.read_bytes(), path


def test_plugins_zip_is_reproducible(bundle: Path, tmp_path: Path) -> None:
    build_bundle.build_plugins_zip(tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == (bundle / "plugins.zip").read_bytes()


def test_requirements_start_with_the_constraint_line(bundle: Path) -> None:
    lines = _requirements(bundle / "requirements.txt")
    assert lines[0] == f'--constraint "/usr/local/airflow/dags/constraints-{VERSION}.txt"'
    assert set(_requirements(REPO / "requirements.txt")) | {"apache-airflow-providers-amazon[s3fs]"} == set(
        lines[1:]
    )


def test_constraints_pin_the_target_airflow_and_every_requirement(bundle: Path) -> None:
    pins = dict(line.split("==", 1) for line in _requirements(bundle / "dags" / f"constraints-{VERSION}.txt"))
    assert pins["apache-airflow"] == VERSION
    for requirement in _requirements(REPO / "requirements.txt"):
        name = re.split(r"[<>=\[]", requirement, maxsplit=1)[0].lower()
        assert name in pins, name
    assert "apache-airflow-providers-amazon" in pins
    assert "s3fs" in pins


def test_startup_script_points_at_what_the_bundle_ships(bundle: Path, tmp_path: Path) -> None:
    script = (bundle / "startup.sh").read_text()
    assert script.startswith("#!/bin/sh\n")
    env = dict(re.findall(r"^export (\w+)=(\S+)$", script, re.M))
    assert env["AIRFLOW__THREATSTREAM__STORAGE_BASE"] == "s3://threatstream-test-bucket/batches/"
    assert "THREATSTREAM_CONTAINER_SETTINGS" not in env  # the package ships its container settings
    list_specs = env["THREATSTREAM_LIST_SPECS"]
    assert list_specs.startswith("/usr/local/airflow/plugins/")
    # Unpacked where MWAA unpacks it, the package imports and finds both containers' settings
    # and the list feed specs.
    plugins = tmp_path / "plugins"
    with zipfile.ZipFile(bundle / "plugins.zip") as archive:
        archive.extractall(plugins)
    local_list_specs = plugins / list_specs.removeprefix("/usr/local/airflow/plugins/")
    code = (
        "from threatstream.store.containers import indicator_container_settings as i\n"
        "from threatstream.store.containers import merged_container_settings as m\n"
        "from threatstream.sources.lists import list_sources\n"
        "print(i()['partition_key_path'], m()['partition_key_path'], *(s.name for s in list_sources()))"
    )
    printed = _run_python(code, plugins, THREATSTREAM_LIST_SPECS=str(local_list_specs))
    list_names = sorted(p.stem for p in (REPO / "include" / "feeds" / "lists").glob("*.json"))
    assert printed.split() == ["/partition_key", "/partition_key", *list_names]
    misp_specs = plugins / env["THREATSTREAM_MISP_SPECS"].removeprefix("/usr/local/airflow/plugins/")
    printed = _run_python(
        "from threatstream.sources.misp import misp_sources\nprint(*(s.name for s in misp_sources()))",
        plugins,
        THREATSTREAM_MISP_SPECS=str(misp_specs),
    )
    assert printed.split() == sorted(p.stem for p in (REPO / "include" / "feeds" / "misp").glob("*.json"))


def test_container_settings_are_read_from_the_zip_itself(bundle: Path) -> None:
    # importlib.resources reads package data through zipimport too: plugins.zip on sys.path.
    code = (
        "import threatstream.store.containers as c\n"
        "assert '.zip' in c.__file__, c.__file__\n"
        "print(c.indicator_container_settings()['partition_key_path'], "
        "c.merged_container_settings()['partition_key_path'])"
    )
    assert _run_python(code, bundle / "plugins.zip").split() == ["/partition_key", "/partition_key"]


def test_the_ui_page_is_served_from_the_zip_itself(bundle: Path) -> None:
    code = (
        "import threatstream.api.page as p\n"
        "assert '.zip' in p.__file__, p.__file__\n"
        "print(*sorted(p.page_files()))"
    )
    served = _run_python(code, bundle / "plugins.zip").split()
    assert {"index.html", "app.js", "style.css", "icon.svg"} <= set(served)


def test_refuses_a_non_s3_storage_base(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="s3://"):
        build_bundle.build(tmp_path / "b", VERSION, "file:///tmp/batches")


@pytest.mark.parametrize(
    "storage_base",
    ["", "s3://<bucket>/threatstream/", "s3://<bucket>", "s3://BUCKET/threatstream/", "s3:///x/"],
)
def test_refuses_a_missing_or_placeholder_storage_base(tmp_path: Path, storage_base: str) -> None:
    with pytest.raises(
        SystemExit, match=r"MWAA_STORAGE_BASE.*e\.g\. `make mwaa-bundle MWAA_STORAGE_BASE=s3://"
    ) as refused:
        build_bundle.build(tmp_path / "b", VERSION, storage_base)
    assert not (tmp_path / "b").exists()
    example = re.search(r"MWAA_STORAGE_BASE=(s3://\S+?)`", str(refused.value))
    assert example
    assert build_bundle.S3_BASE.fullmatch(example[1])


def test_make_mwaa_bundle_without_a_bucket_fails_with_the_message() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^MWAA_STORAGE_BASE \?=\s*$", makefile, re.M), "no placeholder default"
    default = re.search(r"^MWAA_AIRFLOW_VERSION \?= (\S+)$", makefile, re.M)
    assert default
    assert default[1] in build_bundle.MWAA_VERSIONS
    result = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "mwaa" / "build_bundle.py"), "--storage-base", ""],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "MWAA_STORAGE_BASE is not set" in result.stderr


@pytest.mark.parametrize("version", ["3.1.8", "3.1.6", "3.2.2", "2.10.3"])
def test_refuses_a_version_mwaa_does_not_offer_naming_the_ones_it_does(tmp_path: Path, version: str) -> None:
    with pytest.raises(SystemExit, match=r"offers Airflow 3 as 3\.0\.6, 3\.2\.1, 3\.3\.1 \(no 3\.1\.x\)"):
        build_bundle.build(tmp_path / "b", version, STORAGE_BASE)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy" / "mwaa" / "build_bundle.py"),
            "--airflow",
            version,
            "--check-version",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert version in result.stderr


def test_every_mwaa_version_has_compiled_constraints_and_no_other() -> None:
    here = REPO / "deploy" / "mwaa"
    for suffix in ("in", "txt"):
        found = {
            p.name.removeprefix("constraints-").removesuffix(f".{suffix}")
            for p in here.glob(f"constraints-*.{suffix}")
        }
        assert found == set(build_bundle.MWAA_VERSIONS), suffix


@pytest.mark.parametrize("version", build_bundle.MWAA_VERSIONS)
def test_each_version_builds_and_its_constraints_keep_the_pins_of_its_in_file(
    tmp_path: Path, version: str
) -> None:
    """MWAA's own pins (Airflow, its essential constraints) and the web stack hold in the .txt."""
    here = REPO / "deploy" / "mwaa"
    pins = dict(line.split("==", 1) for line in _requirements(here / f"constraints-{version}.txt"))
    declared = [line for line in _requirements(here / f"constraints-{version}.in") if "==" in line]
    assert f"apache-airflow=={version}" in declared
    for line in declared:
        name, pinned = line.split("==", 1)
        assert pins.get(name.lower()) == pinned, line
    for requirement in _requirements(REPO / "requirements.txt"):
        name = re.split(r"[<>=\[]", requirement, maxsplit=1)[0].lower()
        assert name in pins, (version, name)
    out = build_bundle.build(tmp_path / "b", version, STORAGE_BASE)
    lines = _requirements(out / "requirements.txt")
    assert lines[0] == f'--constraint "/usr/local/airflow/dags/constraints-{version}.txt"'
    assert (out / "dags" / f"constraints-{version}.txt").read_bytes() == (
        here / f"constraints-{version}.txt"
    ).read_bytes()
