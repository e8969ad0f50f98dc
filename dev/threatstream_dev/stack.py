"""The local Airflow stack, one command: ``make airflow`` (``python -m threatstream_dev.stack``).

Starts, on 127.0.0.1, the local Cosmos-protocol server, the feed replay server (in live mode,
so it answers whatever data interval the scheduler asks for) and the Airflow components each
as its own process group: api-server, scheduler, dag-processor, triggerer and, with the
CeleryExecutor, Celery workers. The metadata database is PostgreSQL when one is reachable
(a dedicated database, created if missing), else SQLite (see ``docs/operations.md`` for its
limits). The scheduler starts only once the API server answers its health check, and the DAGs
are unpaused only once every component reports healthy (and, with the CeleryExecutor, every
worker consumes the queue), so no task is queued before the API it reports to is up and no
worker is left out. Every registered source (the registry's ``all_sources()``: the built-in
feeds and every list spec) gets its connection to the feed replay server, and every source DAG
with a replay fixture, the merged view, the STIX export and maintenance are unpaused: the
merged view fills within minutes and ``threatstream lookup`` answers from it (the line to run
is printed). Ctrl-C or SIGTERM stops everything (each process group, then the servers).

    make airflow                                   # LocalExecutor, UI on http://127.0.0.1:8080
    python -m threatstream_dev.stack --executor celery --workers 2 --port 8081
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

import requests

from threatstream.naming import COSMOS_CONN_ID, MAINTENANCE_DAG_ID, MERGED_VIEW_DAG_ID, STIX_EXPORT_DAG_ID
from threatstream_dev.cosmos_emulator import CosmosEmulator, running_emulator
from threatstream_dev.feed_replay import FeedReplayServer

REPO = Path(__file__).resolve().parents[2]
DEFAULT_HOME = REPO / ".airflow"
#: The DAGs that are not a source's; each runs in the stack next to the source DAGs.
PIPELINE_DAG_IDS = (MERGED_VIEW_DAG_ID, STIX_EXPORT_DAG_ID, MAINTENANCE_DAG_ID)
#: A value four sources' fixtures report (``tests/sources/test_source_overlap.py``): a lookup example.
EXAMPLE_LOOKUP_VALUE = "194.180.48.51"
POSTGRES_URL = os.environ.get("THREATSTREAM_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("THREATSTREAM_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN = "admin"


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the Celery workers: ``<host>-<worker name>``.

    Every worker of the local stack runs on the same machine; the suffix tells them apart in
    the task instances' ``hostname``.
    """
    return f"{socket.getfqdn()}-{os.environ.get('THREATSTREAM_WORKER_NAME', 'main')}"


@dataclass(frozen=True)
class RegisteredSource:
    """What the stack needs of one registered source (read from the registry by an Airflow process)."""

    name: str
    dag_id: str
    conn_id: str


#: Prints the registry, as the DAG processor sees it, as one JSON line.
_REGISTRY_SCRIPT = """
import json
from threatstream.sources import all_sources
print(json.dumps([{"name": s.name, "dag_id": s.dag_id, "conn_id": s.conn_id} for s in all_sources()]))
"""


def conn_env_name(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def cli_command(cosmos_connection: str, value: str = EXAMPLE_LOOKUP_VALUE) -> str:
    """The shell line that looks ``value`` up in the local store with the installed console script."""
    script = Path(sys.executable).with_name("threatstream")
    with contextlib.suppress(ValueError):
        script = Path(os.path.relpath(script))
    variable = f"{conn_env_name(COSMOS_CONN_ID)}={shlex.quote(cosmos_connection)}"
    return f"{variable} {script} lookup {shlex.quote(value)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def postgres_reachable() -> bool:
    return reachable("127.0.0.1", 5432)


def redis_reachable() -> bool:
    return reachable("127.0.0.1", 6379)


def ensure_postgres_database(name: str) -> str:
    """Create database ``name`` if missing; returns its SQLAlchemy URL."""
    import psycopg2

    dsn = POSTGRES_URL.replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(f"{dsn}/postgres", connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return f"{POSTGRES_URL}/{name}"


def drop_postgres_database(name: str) -> None:
    import psycopg2

    dsn = POSTGRES_URL.replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(f"{dsn}/postgres", connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def delete_redis_keys(prefix: str) -> None:
    """Remove the broker keys one stack left in Redis (its Celery key prefix)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()


@dataclass
class StackConfig:
    """What to start.

    :param home: ``AIRFLOW_HOME`` (logs, batches, the SQLite file, component logs).
    :param port: API server / UI port (0: a free one).
    :param executor: ``local`` or ``celery`` (needs Redis and PostgreSQL).
    :param workers: Celery workers (each with concurrency ``worker_concurrency``).
    :param database: PostgreSQL database name; None: SQLite in ``home``.
    :param unpause: unpause the ThreatStream DAGs once everything is healthy.
    :param login: require a login (False: every visitor is admin, for headless checks).
    :param extra_env: further environment for every Airflow component.
    """

    home: Path = DEFAULT_HOME
    port: int = 8080
    executor: str = "local"
    workers: int = 2
    worker_concurrency: int = 2
    database: str | None = "threatstream_airflow"
    unpause: bool = True
    login: bool = True
    parallelism: int = 4
    redis_prefix: str = field(default_factory=lambda: f"threatstream-{secrets.token_hex(4)}:")
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Component:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


class AirflowStack:
    """The running stack; a context manager that stops everything on exit."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.port = config.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.components: list[Component] = []
        self._exit = contextlib.ExitStack()
        self.cosmos: CosmosEmulator | None = None
        self.feeds: FeedReplayServer | None = None
        self.env: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        #: Every registered source, and those the feed replay server has no fixtures for (left paused).
        self.sources: list[RegisteredSource] = []
        self.unwired: list[RegisteredSource] = []
        self._token: str | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> AirflowStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        config = self.config
        config.home.mkdir(parents=True, exist_ok=True)
        (config.home / "components").mkdir(exist_ok=True)
        self.cosmos = self._exit.enter_context(running_emulator())
        self.feeds = self._exit.enter_context(FeedReplayServer(live=True))
        self.env = self._environment()
        self.sources = self._registered_sources()
        for source in self.sources:
            if source.name in self.feeds.sources:
                self.env[conn_env_name(source.conn_id)] = self.feeds.connection_json(source.name)
            else:
                self.unwired.append(source)
        self._airflow("db", "migrate")
        pools = config.home / "pools.json"
        pools.write_text(self._python("-m", "threatstream.pipelines.pools"))
        self._airflow("pools", "import", str(pools))
        # Create the Cosmos DB database and container once, before several upserts race to.
        self._python(
            "-c", "from threatstream.store.indicators import IndicatorStoreHook as H; H().get_container()"
        )
        self._spawn("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port))
        self.wait_for(self._api_up, 120, "the API server to answer")
        self.timings["api_up"] = time.monotonic() - started
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("triggerer", "triggerer")
        if config.executor == "celery":
            for number in range(1, config.workers + 1):
                self._spawn(
                    f"worker{number}",
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"worker{number}@%h",
                    "--concurrency",
                    str(config.worker_concurrency),
                    env={
                        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "threatstream_dev.stack.worker_hostname",
                        "THREATSTREAM_WORKER_NAME": f"worker{number}",
                    },
                )
        self.wait_for(self._healthy, 180, "every component to report healthy")
        self.timings["healthy"] = time.monotonic() - started
        if config.executor == "celery":
            # A worker is still importing Airflow when the other components report healthy: tasks
            # queued before it consumes all land on the workers that already do.
            self.wait_for(self._workers_consuming, 180, f"all {config.workers} Celery workers to consume")
            self.timings["workers_consuming"] = time.monotonic() - started
        self.wait_for(self._dags_parsed, 180, "the DAG processor to parse the ThreatStream DAGs")
        if config.unpause:
            for dag_id in self.wired_dag_ids:
                self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        self.timings["ready"] = time.monotonic() - started

    @property
    def dag_ids(self) -> list[str]:
        """Every ThreatStream DAG: each registered source's, the merged view, STIX export, maintenance."""
        return [source.dag_id for source in self.sources] + list(PIPELINE_DAG_IDS)

    @property
    def wired_dag_ids(self) -> list[str]:
        """The DAGs that can run against the local servers (what ``unpause`` unpauses)."""
        unwired = {source.dag_id for source in self.unwired}
        return [dag_id for dag_id in self.dag_ids if dag_id not in unwired]

    def cli_command(self, value: str = EXAMPLE_LOOKUP_VALUE) -> str:
        """The shell line that looks ``value`` up in this stack's store."""
        return cli_command(self.env[conn_env_name(COSMOS_CONN_ID)], value)

    def celery_workers(self) -> set[str]:
        """The Celery workers consuming a queue of this stack's broker (``airflow celery list-workers``)."""
        output = self._airflow("celery", "list-workers", "--output", "json")
        start = output.find("[")
        workers = json.loads(output[start:]) if start >= 0 else []
        return {str(worker["worker_name"]) for worker in workers if worker.get("queues")}

    def stop(self) -> None:
        """SIGTERM every component's process group, wait up to 20 s, then SIGKILL what is left."""
        for component in reversed(self.components):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(component.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for component in reversed(self.components):
            try:
                component.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(component.process.pid, signal.SIGKILL)
                component.process.wait(timeout=10)
        self.components.clear()
        if self.config.executor == "celery" and "AIRFLOW__CELERY__BROKER_URL" in self.env:
            delete_redis_keys(self.config.redis_prefix)
        self._exit.close()

    # -- helpers ----------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        config = self.config
        if self.cosmos is None or self.feeds is None:
            raise RuntimeError("start the local servers first")
        if config.database and postgres_reachable():
            database_url = ensure_postgres_database(config.database)
        else:
            if config.executor == "celery":
                raise RuntimeError("the CeleryExecutor needs PostgreSQL (127.0.0.1:5432)")
            database_url = f"sqlite:///{config.home / 'airflow.db'}"
        passwords = config.home / "passwords.json"
        passwords.write_text(json.dumps({ADMIN: self.password}))
        env = {
            "AIRFLOW_HOME": str(config.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if config.executor == "celery" else "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(config.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(config.parallelism),
            # .airflowignore in the regexp syntax: the glob syntax logs pathspec's GitWildMatchPattern
            # deprecation. Airflow 3.3.2's Task SDK plugin loader ignores the option and always uses
            # glob, so task processes also filter that one warning.
            "AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX": "regexp",
            "PYTHONWARNINGS": "ignore:GitWildMatchPattern:DeprecationWarning",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(not config.login),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__THREATSTREAM__STORAGE_BASE": (config.home / "batches").as_uri(),
            "AIRFLOW__THREATSTREAM__USE_POOLS": "True",
            "AIRFLOW__THREATSTREAM__RETRY_DELAY_SECONDS": "15",
            "AIRFLOW_CONN_THREATSTREAM_COSMOS": self.cosmos.connection_json(database_name="threatstream"),
            "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")]),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        if config.executor == "celery":
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database_url,
                    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": config.redis_prefix,
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(config.worker_concurrency),
                    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                }
            )
        env.update(config.extra_env)
        return env

    def _full_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
        return {**inherited, **self.env, **(extra or {})}

    def _airflow(self, *args: str) -> str:
        airflow = Path(sys.executable).with_name("airflow")
        result = subprocess.run(
            [str(airflow), *args], env=self._full_env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def _registered_sources(self) -> list[RegisteredSource]:
        """The registry as the Airflow components read it (their ``THREATSTREAM_LIST_SPECS``)."""
        lines = self._python("-c", _REGISTRY_SCRIPT).strip().splitlines()
        return [RegisteredSource(**entry) for entry in json.loads(lines[-1])]

    def _python(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, *args], env=self._full_env(), capture_output=True, text=True, check=True
        )
        return result.stdout

    def _spawn(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        log_path = self.config.home / "components" / f"{name}.log"
        log: IO[bytes] = log_path.open("ab")
        airflow = Path(sys.executable).with_name("airflow")
        process = subprocess.Popen(
            [str(airflow), *args],
            env=self._full_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        log.close()
        self.components.append(Component(name, process, log_path))

    def wait_for(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for component in self.components:
                if component.process.poll() is not None:
                    tail = component.log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"airflow {component.name} exited while waiting for {what}:\n{tail}")
            with contextlib.suppress(requests.RequestException):
                if ready():
                    return
            time.sleep(1)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    def _api_up(self) -> bool:
        return requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200

    def health(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def _healthy(self) -> bool:
        health = self.health()
        components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(name) or {}).get("status") == "healthy" for name in components)

    def _workers_consuming(self) -> bool:
        expected = {f"worker{number}" for number in range(1, self.config.workers + 1)}
        return expected <= {name.split("@", 1)[0] for name in self.celery_workers()}

    def _dags_parsed(self) -> bool:
        dags = self.api(
            "GET", "/api/v2/dags", params={"dag_id_pattern": "threatstream_", "limit": 1000}
        ).json()
        return set(self.dag_ids) <= {d["dag_id"] for d in dags["dags"]}

    def token(self) -> str | None:
        if self._token is None and self.config.login:
            response = requests.post(
                f"{self.url}/auth/token", json={"username": ADMIN, "password": self.password}, timeout=10
            )
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, *, check: bool = True, **kwargs: Any) -> requests.Response:
        """A REST API v2 call as the admin user."""
        token = self.token()
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        response = requests.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)
        if check and response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response


def ready_message(stack: AirflowStack) -> str:
    """What ``make airflow`` prints once everything is up: where to look, what runs, how to look up."""
    if stack.cosmos is None or stack.feeds is None:
        raise RuntimeError("the local servers did not start")
    config = stack.config
    database = stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("@")[-1]
    state = "unpaused" if config.unpause else "paused (--paused)"
    lines = [
        "",
        f"Airflow UI   {stack.url}   (user {ADMIN}, password {stack.password})",
        f"metadata DB  {database}   executor {stack.env['AIRFLOW__CORE__EXECUTOR']}",
        f"Cosmos DB    {stack.cosmos.url}   feed replay {stack.feeds.url} (live)",
        f"DAGs         {len(stack.wired_dag_ids)} {state}: {', '.join(stack.wired_dag_ids)}",
    ]
    for source in stack.unwired:
        lines.append(
            f"             {source.dag_id} stays paused: no replay fixture under "
            f"include/feeds/{source.name}/ (set {conn_env_name(source.conn_id)} to point it at the real feed)"
        )
    lines += [
        f"logs         {config.home / 'components'}   ready in {stack.timings['ready']:.0f}s",
        "",
        "Each source runs at once and the merged view after each upsert (a few minutes for all);",
        "then look a value up in the local store (here one that four feeds report):",
        "",
        f"  {stack.cli_command()}",
        "",
        "Press Ctrl-C to stop everything.",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def running_stack(config: StackConfig) -> Iterator[AirflowStack]:
    with AirflowStack(config) as stack:
        yield stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--executor", choices=("local", "celery"), default="local")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (with --executor celery)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even when PostgreSQL is reachable")
    parser.add_argument("--paused", action="store_true", help="leave the DAGs paused")
    args = parser.parse_args(argv)
    config = StackConfig(
        home=args.home,
        port=args.port,
        executor=args.executor,
        workers=args.workers,
        database=None if args.sqlite else "threatstream_airflow",
        unpause=not args.paused,
    )
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    stack = AirflowStack(config)
    try:
        print("Starting the ThreatStream Airflow stack ...", flush=True)
        stack.start()
        if stack.cosmos is None or stack.feeds is None:
            raise RuntimeError("the local servers did not start")
        print(ready_message(stack), flush=True)
        while True:
            for component in stack.components:
                if component.process.poll() is not None:
                    print(f"airflow {component.name} exited; see {component.log_path}", file=sys.stderr)
                    return 1
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
    finally:
        print("Stopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
