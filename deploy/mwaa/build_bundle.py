"""Build what Amazon MWAA takes from its S3 bucket: ``dags/``, ``plugins.zip``,
``requirements.txt`` (with its ``--constraint`` line) and ``startup.sh``.

    python deploy/mwaa/build_bundle.py --airflow 3.3.1 --storage-base s3://my-batches/threatstream/

``--airflow`` is one of the Airflow 3 versions MWAA offers (``MWAA_VERSIONS``), each with its
``constraints-<version>.txt`` here; ``--storage-base`` is the real ``s3://`` base of the batches
(a placeholder such as ``s3://<bucket>/`` is refused, so no bundle starts with a dead path).

Layout of the output folder (default ``build/mwaa``), copied 1:1 to the environment's bucket:

    dags/threatstream_*.py            the DAG files
    dags/constraints-<version>.txt    constraints for requirements.txt (read from the DAG folder)
    plugins.zip                       threatstream/ (the package, with its Cosmos container
                                      settings), .airflowignore, include/feeds/lists/ and
                                      include/feeds/misp/ (the list and MISP feed specs)
    requirements.txt                  --constraint line, requirements.txt, amazon[s3fs]
    startup.sh                        environment of every Airflow component

MWAA unpacks ``plugins.zip`` to ``/usr/local/airflow/plugins`` and syncs ``dags/`` to
``/usr/local/airflow/dags``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MWAA_HOME = "/usr/local/airflow"
#: Zip entries get a fixed time, so the same sources give the same plugins.zip (and S3 version).
ZIP_TIME = (2026, 1, 1, 0, 0, 0)
S3_PROVIDER = "apache-airflow-providers-amazon[s3fs]"
#: The Airflow 3 versions Amazon MWAA offers: its images, github.com/aws/amazon-mwaa-docker-images
#: images/airflow/<version> (snapshot of August 2026: 3.0.6, 3.2.1, 3.3.1; a 3.1.6 image was
#: renamed to 3.2.0 before release, so MWAA has no 3.1.x), and MWAA's "Apache Airflow versions"
#: page, which is the list to check. Each has a constraints-<version>.in here, compiled by
#: `make mwaa-constraints` to its .txt.
MWAA_VERSIONS = ("3.0.6", "3.2.1", "3.3.1")
#: ``s3://bucket/prefix/``: a bucket name as S3 allows it (3-63 lower-case letters, digits,
#: dots, hyphens), so placeholders like ``<bucket>`` or ``BUCKET`` do not pass.
S3_BASE = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s<>]*)?")
STORAGE_EXAMPLE = "make mwaa-bundle MWAA_STORAGE_BASE=s3://my-threatstream-batches/threatstream/"


def check_version(airflow_version: str) -> None:
    """Refuse an Airflow version MWAA does not offer, naming the ones it does."""
    if airflow_version not in MWAA_VERSIONS:
        offered = ", ".join(MWAA_VERSIONS)
        raise SystemExit(
            f"MWAA_AIRFLOW_VERSION={airflow_version}: Amazon MWAA offers Airflow 3 as {offered} "
            "(no 3.1.x); the bundle has constraints for each of them. Pick one, e.g. "
            f"`make mwaa-bundle MWAA_AIRFLOW_VERSION={MWAA_VERSIONS[-1]} MWAA_STORAGE_BASE=...`; "
            "a version MWAA adds later needs its deploy/mwaa/constraints-<version>.in and an entry "
            "in MWAA_VERSIONS (deploy/mwaa/build_bundle.py)."
        )


def check_storage_base(storage_base: str) -> None:
    """Refuse a missing or placeholder storage base: MWAA would write batches nowhere."""
    if not storage_base:
        raise SystemExit(
            "MWAA_STORAGE_BASE is not set: the s3:// base where the workers keep their batches, "
            f"e.g. `{STORAGE_EXAMPLE}` (python: --storage-base)."
        )
    if not storage_base.startswith("s3://"):
        raise SystemExit(
            f"MWAA_STORAGE_BASE (--storage-base) must be an s3:// URI on MWAA, got {storage_base!r}; "
            f"e.g. `{STORAGE_EXAMPLE}`."
        )
    if not S3_BASE.fullmatch(storage_base):
        raise SystemExit(
            f"MWAA_STORAGE_BASE={storage_base!r} is not a real bucket (a placeholder?): give the "
            f"bucket the execution role may write to, e.g. `{STORAGE_EXAMPLE}`."
        )


def _zip_file(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


#: What the package reads from ``include/`` at run time: the list and MISP feed specs (MWAA
#: has no ``include/`` folder, so they travel in plugins.zip). The Cosmos container settings are
#: package data (``threatstream/store/container_settings/``), zipped with the package.
INCLUDED = ("feeds/lists/*.json", "feeds/misp/*.json")


def package_data() -> list[str]:
    """The package's data files (the Cosmos container settings, the UI page), as
    ``pyproject.toml``'s ``[tool.setuptools.package-data]`` declares them."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = REPO / "plugins"
    return sorted(
        path.relative_to(package).as_posix()
        for module, patterns in declared.items()
        for pattern in patterns
        for path in (package / module.replace(".", "/")).glob(pattern)
        if path.is_file()
    )


def build_plugins_zip(target: Path) -> list[str]:
    """The package (its modules and data files), its ``.airflowignore`` and the list specs."""
    entries: dict[str, bytes] = {".airflowignore": (REPO / "plugins" / ".airflowignore").read_bytes()}
    for pattern in INCLUDED:
        for path in sorted((REPO / "include").glob(pattern)):
            entries[path.relative_to(REPO).as_posix()] = path.read_bytes()
    package = REPO / "plugins" / "threatstream"
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in {".py", ".typed"}:
            entries[path.relative_to(REPO / "plugins").as_posix()] = path.read_bytes()
    for name in package_data():
        entries[name] = (REPO / "plugins" / name).read_bytes()
    with zipfile.ZipFile(target, "w") as archive:
        for name in sorted(entries):
            _zip_file(archive, name, entries[name])
    return sorted(entries)


def requirements_lines(constraints_name: str) -> list[str]:
    """``requirements.txt`` for MWAA: the constraint line first, then the project's requirements."""
    project = [
        line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return [
        "# ThreatStream on Amazon MWAA (generated by deploy/mwaa/build_bundle.py)",
        f'--constraint "{MWAA_HOME}/dags/{constraints_name}"',
        *project,
        S3_PROVIDER,
    ]


def startup_script(storage_base: str, storage_conn_id: str) -> str:
    include = f"{MWAA_HOME}/plugins/include"
    lines = [
        "#!/bin/sh",
        "# MWAA startup script: runs before every Airflow component starts (generated).",
        f"export THREATSTREAM_LIST_SPECS={include}/feeds/lists",
        f"export THREATSTREAM_MISP_SPECS={include}/feeds/misp",
        f"export AIRFLOW__THREATSTREAM__STORAGE_BASE={storage_base}",
    ]
    if storage_conn_id:
        lines.append(f"export AIRFLOW__THREATSTREAM__STORAGE_CONN_ID={storage_conn_id}")
    return "\n".join(lines) + "\n"


def build(out: Path, airflow_version: str, storage_base: str, storage_conn_id: str = "") -> Path:
    """Write the bundle to ``out`` (replaced if it exists); return ``out``."""
    check_version(airflow_version)
    check_storage_base(storage_base)
    constraints = HERE / f"constraints-{airflow_version}.txt"
    if not constraints.is_file():
        raise SystemExit(
            f"no deploy/mwaa/{constraints.name}: compile it with "
            f"`make mwaa-constraints MWAA_AIRFLOW_VERSION={airflow_version}`"
        )
    if out.exists():
        shutil.rmtree(out)
    dags = out / "dags"
    dags.mkdir(parents=True)
    for dag_file in sorted((REPO / "dags").glob("*.py")):
        shutil.copy2(dag_file, dags / dag_file.name)
    shutil.copy2(constraints, dags / constraints.name)
    build_plugins_zip(out / "plugins.zip")
    (out / "requirements.txt").write_text("\n".join(requirements_lines(constraints.name)) + "\n")
    (out / "startup.sh").write_text(startup_script(storage_base, storage_conn_id))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--airflow",
        default=MWAA_VERSIONS[-1],
        help=f"the environment's Airflow version: {', '.join(MWAA_VERSIONS)}",
    )
    parser.add_argument(
        "--check-version",
        action="store_true",
        help="only check that MWAA offers --airflow (make mwaa-constraints runs this first)",
    )
    parser.add_argument(
        "--storage-base", default="", help="s3:// base for batches, e.g. s3://my-bucket/threatstream/"
    )
    parser.add_argument("--storage-conn-id", default="", help="empty: the execution role (aws_default)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "mwaa")
    args = parser.parse_args()
    if args.check_version:
        check_version(args.airflow)
        return
    out = build(args.out, args.airflow, args.storage_base, args.storage_conn_id)
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        print(path.relative_to(out))


if __name__ == "__main__":
    main()
