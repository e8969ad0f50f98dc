"""``threatstream lookup <value>``: is this value bad, who says so, since when, how sure are we?

The value is canonicalised exactly as the pipeline stores it (its type detected when not
given), and its merged document is fetched with a point read (id and partition key are
computed from type + canonical value). A value whose type is ambiguous (a 32-hex digest
may be an MD5, an imphash or a JA3; a host name may be stored as domain or hostname) costs
one point read per candidate type, in the order of :func:`candidate_types`.

The Cosmos DB account is the Airflow connection ``threatstream_cosmos`` (e.g. the
``AIRFLOW_CONN_THREATSTREAM_COSMOS`` environment variable, or any secrets backend Airflow
is configured with).

The value is checked and canonicalised before Airflow or the Azure SDK is imported, so a
value that cannot be looked up is refused at once. Importing Airflow costs seconds, so a
lookup reaches the store without it when that gives the same answer (:func:`direct_store`):
the connection is an account key in JSON form in its environment variable, and the settings
Airflow would give (``[threatstream] merged_container``, the scoring policy, whether a
secrets backend is configured) were read by an earlier lookup under the same configuration
and remembered in ``$XDG_CACHE_HOME/threatstream/`` (:data:`PROFILE_FILE`, no secret in
it). Any other case (first run, changed configuration, a URI connection, Microsoft Entra
ID, a secrets backend) goes through Airflow's connection lookup and the merged-view hook.

The store is asked with bounded patience: each request gives up after
:data:`CONNECT_TIMEOUT` seconds to connect and :data:`READ_TIMEOUT` seconds to answer, with
at most :data:`RETRIES` retries.

Exit status:

* 0: found (the record is printed on stdout);
* 1: not found (the candidates tried are printed on stdout);
* 2: invalid value or usage (one line on stderr);
* 3: store or configuration error: no such connection, store unreachable or refusing the
  credentials, ... (one line on stderr).

Every failure is one line on stderr of at most :data:`MAX_MESSAGE_CHARS` characters, with
no traceback and never the account key.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import ipaddress
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from threatstream.canonical.dispatch import canonical_indicator
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.refang import refang
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.merged.scoring import ScoringPolicy
from threatstream.naming import COSMOS_CONN_ID

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy, CosmosClient

    from threatstream.store.merged import MergedViewHook

__all__ = [
    "EXIT_FOUND",
    "EXIT_INVALID",
    "EXIT_NOT_FOUND",
    "EXIT_STORE_ERROR",
    "INDICATOR_TYPES",
    "DirectStore",
    "LookupResult",
    "MergedReader",
    "StoreConfigError",
    "bounded_hook",
    "candidate_types",
    "canonical_candidates",
    "direct_store",
    "lookup",
    "lookup_result",
    "main",
    "read_first",
]

EXIT_FOUND = 0
EXIT_NOT_FOUND = 1
EXIT_INVALID = 2
EXIT_STORE_ERROR = 3
#: A value longer than this (in UTF-8 bytes) is refused before it is canonicalised; the
#: longest canonical values (YARA rules, osquery) are at most 32 KiB.
MAX_VALUE_BYTES = 64 * 1024
#: The longest line a failure prints.
MAX_MESSAGE_CHARS = 300
#: The indicator types a caller may name (``--type``, the API's ``type``).
INDICATOR_TYPES = tuple(kind.value for kind in IndicatorType)
#: Seconds to connect to the store, seconds to wait for an answer, retries of a request.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 5
RETRIES = 1

_EPILOG = """exit status:
  0  found
  1  not found
  2  invalid value or usage
  3  store or configuration error (no connection, store unreachable, credentials refused)
"""

_CVE = re.compile(r"(?i)cve-\d{4}-\d{4,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){19,31}")
_BITCOIN = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{24,33}|(?i:bc1)[0-9a-zA-Z]{11,87}")
_HASH_TYPES: dict[int, tuple[IndicatorType, ...]] = {
    32: (IndicatorType.FILEHASH_MD5, IndicatorType.FILEHASH_IMPHASH, IndicatorType.JA3),
    40: (IndicatorType.FILEHASH_SHA1, IndicatorType.FILEHASH_PEHASH, IndicatorType.SSL_CERT_FINGERPRINT),
    64: (IndicatorType.FILEHASH_SHA256, IndicatorType.SSL_CERT_FINGERPRINT),
}


def candidate_types(value: str) -> tuple[IndicatorType, ...]:
    """The indicator types ``value`` may be stored as, most likely first (may be empty).

    Defanged spellings (``hxxp://``, ``evil[.]example``, ``1.2.3[.]4``) are recognised too.
    """
    text = refang(IndicatorType.URL, value.strip())
    if "://" in text:
        return (IndicatorType.URL,)
    if _CVE.fullmatch(text):
        return (IndicatorType.CVE,)
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
            return (IndicatorType.CIDR,)
        address = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return (IndicatorType.IPV4,) if address.version == 4 else (IndicatorType.IPV6,)
    if "@" in text:
        return (IndicatorType.EMAIL,)
    if _HEX.fullmatch(text) and len(text) in _HASH_TYPES:
        return _HASH_TYPES[len(text)]
    if _FINGERPRINT.fullmatch(text):
        return (IndicatorType.SSL_CERT_FINGERPRINT,)
    if _BITCOIN.fullmatch(text):
        return (IndicatorType.BITCOIN_ADDRESS,)
    if "." in text and not any(ch.isspace() for ch in text):
        return (IndicatorType.DOMAIN, IndicatorType.HOSTNAME)
    return ()


class StoreConfigError(Exception):
    """The store could not be asked: missing connection, unreachable store, refused credentials."""


@dataclass
class LookupResult:
    """What a lookup found, what it asked for, and what it cost."""

    record: dict[str, Any] | None
    tried: list[tuple[str, str]] = field(default_factory=list)
    request_charge: float = 0.0


def preview(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters (with its full length)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def canonical_candidates(value: str, type: str | None = None) -> list[tuple[IndicatorType, str]]:
    """The ``(type, canonical value)`` pairs to read, most likely first (no store needed).

    :raises InvalidIndicator: when the value is too long, its type cannot be told, or it
        cannot be canonicalised as any candidate type.
    """
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        raise InvalidIndicator("too_long", f"the value is {size} bytes, more than {MAX_VALUE_BYTES}")
    if type is not None and type not in INDICATOR_TYPES:
        known = ", ".join(INDICATOR_TYPES)
        raise InvalidIndicator("unknown_type", f"{preview(type)} is not an indicator type; one of {known}")
    kinds: Sequence[IndicatorType] = (IndicatorType(type),) if type else candidate_types(value)
    if not kinds:
        raise InvalidIndicator(
            "unknown_type", f"cannot tell the indicator type of {preview(value)}; pass --type"
        )
    canonical: list[tuple[IndicatorType, str]] = []
    errors: list[InvalidIndicator] = []
    for kind in kinds:
        try:
            # The type may change (an absolute URI is a URL, ::ffff:a.b.c.d is IPv4).
            canonical_type, canonical_value, _ = canonical_indicator(kind, value)
            if (canonical_type, canonical_value) not in canonical:
                canonical.append((canonical_type, canonical_value))
        except InvalidIndicator as err:
            errors.append(err)
    if not canonical:
        raise errors[0]
    return canonical


def bounded_hook(cosmos_conn_id: str | None, container_name: str | None) -> MergedViewHook:
    """The merged-view hook with a Cosmos client of bounded timeouts and retries."""
    from threatstream.store.merged import MergedViewHook

    class LookupHook(MergedViewHook):
        def get_conn(self) -> CosmosClient:
            if self._conn is None:
                from azure.cosmos import CosmosClient

                conn = self.get_connection(self.conn_id)
                extras = conn.extra_dejson
                if conn.password:  # an account key; other routes are the hook's own
                    if not conn.login:
                        raise StoreConfigError(f"connection {self.conn_id!r} has no endpoint (login)")
                    _SECRETS.add(conn.password)
                    for name in ("database_name", "collection_name", "partition_key"):
                        setattr(self, f"default_{name}", extras.get(name) or None)
                    self._conn = CosmosClient(conn.login, {"masterKey": conn.password}, **_CLIENT_OPTIONS)
            return super().get_conn()

    from threatstream.sources import scoring_policy

    return LookupHook(
        *([cosmos_conn_id] if cosmos_conn_id else []),
        container_name=container_name,
        policy=scoring_policy(),
        max_concurrency=1,
        max_attempts=1,
    )


#: Passed to ``CosmosClient``: how long and how often one lookup may try to reach the store.
_CLIENT_OPTIONS: dict[str, Any] = {
    "connection_timeout": CONNECT_TIMEOUT,
    "read_timeout": READ_TIMEOUT,
    "retry_total": RETRIES,
    "retry_connect": RETRIES,
    "retry_read": RETRIES,
    "retry_backoff_max": 2,
    "enable_endpoint_discovery": False,
}
#: Secrets seen while connecting; scrubbed from every message the CLI prints.
_SECRETS: set[str] = set()


class MergedReader(Protocol):
    """What a lookup reads through: point reads of merged documents, and the scoring policy."""

    @property
    def policy(self) -> ScoringPolicy: ...

    def read_merged(
        self, indicator_type: str, canonical_value: str
    ) -> tuple[dict[str, Any] | None, float]: ...


#: The file (in :func:`profile_dir`) holding the settings a lookup needs from Airflow.
PROFILE_FILE = "lookup-profile.json"
#: Keys Airflow accepts in a connection's JSON form (anything else: Airflow decides).
_CONNECTION_KEYS = frozenset(
    {"conn_type", "description", "host", "schema", "login", "password", "port", "extra"}
)


@dataclass(frozen=True)
class _Profile:
    """The settings a lookup reads through Airflow, as an earlier lookup found them."""

    merged_container: str
    policy: ScoringPolicy
    secrets_backend: bool


def profile_dir() -> Path | None:
    """``$XDG_CACHE_HOME/threatstream`` (default ``~/.cache/threatstream``); None without a home."""
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "threatstream"
    try:
        return Path.home() / ".cache" / "threatstream"
    except RuntimeError:
        return None


def _stamp(digest: Any, folder: Path, pattern: str) -> None:
    """Add the names, times and sizes of ``folder``'s files matching ``pattern`` to ``digest``."""
    try:
        entries = sorted(folder.glob(pattern))
    except OSError:
        entries = []
    for path in entries:
        with contextlib.suppress(OSError):
            info = path.stat()
            digest.update(f"{path}\0{info.st_mtime_ns}\0{info.st_size}\n".encode())


def profile_key() -> str | None:
    """A digest of everything Airflow's answers for a lookup depend on: this package's code
    and specs folders, the ``AIRFLOW*`` and ``THREATSTREAM*`` environment (connections and
    variables aside) and the Airflow configuration file. None when the package is not a plain
    folder (e.g. imported from a zip)."""
    package = Path(__file__).resolve().parent
    if not package.is_dir():
        return None
    digest = hashlib.sha256(f"{sys.executable}\0{sys.prefix}\n".encode())
    _stamp(digest, package, "**/*.py")
    _stamp(digest, package, "**/*.json")
    repo = package.parents[1]
    for variable, default in (
        ("THREATSTREAM_LIST_SPECS", repo / "include" / "feeds" / "lists"),
        ("THREATSTREAM_MISP_SPECS", repo / "include" / "feeds" / "misp"),
    ):
        _stamp(digest, Path(os.environ.get(variable) or default), "*.json")
    for name in sorted(os.environ):
        if name.startswith(("AIRFLOW", "_AIRFLOW", "THREATSTREAM")) and not name.startswith(
            ("AIRFLOW_CONN_", "AIRFLOW_VAR_")
        ):
            digest.update(f"{name}={os.environ[name]}\n".encode())
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    config = Path(os.environ.get("AIRFLOW_CONFIG") or os.path.join(home, "airflow.cfg"))
    _stamp(digest, config.parent, config.name)
    return digest.hexdigest()


def _load_profile() -> _Profile | None:
    folder = profile_dir()
    if folder is None:
        return None
    try:
        saved = json.loads((folder / PROFILE_FILE).read_text(encoding="utf-8"))
        if saved.get("key") != profile_key():
            return None
        return _Profile(
            merged_container=str(saved["merged_container"]),
            policy=ScoringPolicy(**saved["policy"]),
            secrets_backend=bool(saved["secrets_backend"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _save_profile(hook: MergedViewHook) -> None:
    """Remember what Airflow said for this configuration (Airflow is imported by now)."""
    from airflow.configuration import conf

    from threatstream.settings import settings

    folder = profile_dir()
    key = profile_key()
    if folder is None or key is None:
        return
    try:
        saved = {
            "key": key,
            "merged_container": settings().merged_container,
            "secrets_backend": bool(conf.get("secrets", "backend", fallback="")),
            "policy": {
                item.name: dict(value) if isinstance(value, Mapping) else value
                for item in dataclasses.fields(hook.policy)
                for value in [getattr(hook.policy, item.name)]
            },
        }
    except Exception:  # the hook's own reads report a bad configuration
        return
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=".profile-", suffix=".tmp", delete=False
        ) as out:
            json.dump(saved, out)
        os.replace(out.name, folder / PROFILE_FILE)


def _key_connection(conn_id: str) -> tuple[str, str, dict[str, Any]] | None:
    """Endpoint, key and extras of ``conn_id`` from its environment variable in JSON form,
    or None when Airflow's own lookup must decide (absent, URI form, no key, ...)."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "").strip()
    if not raw.startswith("{"):
        return None
    try:
        fields = json.loads(raw)
        extra = fields.get("extra") or {}
        extras = json.loads(extra) if isinstance(extra, str) else extra
    except (ValueError, AttributeError):
        return None
    if not isinstance(fields, dict) or not set(fields) <= _CONNECTION_KEYS or not isinstance(extras, dict):
        return None
    login, password = fields.get("login"), fields.get("password")
    if not (isinstance(login, str) and login and isinstance(password, str) and password):
        return None
    return login, password, extras


class DirectStore:
    """The merged view read with the Azure SDK alone: what :func:`bounded_hook` does for an
    account-key connection (same client options, database and container preparation, point
    reads and errors), without importing Airflow."""

    def __init__(
        self,
        conn_id: str,
        *,
        endpoint: str,
        key: str,
        extras: Mapping[str, Any],
        container_name: str,
        policy: ScoringPolicy,
    ) -> None:
        self.conn_id = conn_id
        self._endpoint = endpoint
        self._key = key
        self._database_name = extras.get("database_name") or None
        self.container_name = container_name
        self._policy = policy
        self._container: ContainerProxy | None = None

    @property
    def policy(self) -> ScoringPolicy:
        return self._policy

    def get_container(self) -> ContainerProxy:
        """The merged container (the database and container created when missing)."""
        if self._container is None:
            from azure.cosmos import CosmosClient
            from azure.cosmos.exceptions import CosmosHttpResponseError

            from threatstream.store.containers import (
                DEFAULT_DATABASE,
                MERGED_SETTINGS,
                container_settings,
                ensure_container,
            )

            _SECRETS.add(self._key)
            client = CosmosClient(self._endpoint, {"masterKey": self._key}, **_CLIENT_OPTIONS)
            try:
                self._container = ensure_container(
                    client,
                    self._database_name or DEFAULT_DATABASE,
                    self.container_name,
                    container_settings(MERGED_SETTINGS),
                )
            except CosmosHttpResponseError as err:
                raise self._classify(err, "preparing the database and container") from None
        return self._container

    def read_merged(self, indicator_type: str, canonical_value: str) -> tuple[dict[str, Any] | None, float]:
        """Point read of one value's merged document (None when absent) and its RU charge."""
        from azure.cosmos.exceptions import CosmosHttpResponseError

        from threatstream.canonical.identity import merged_keys

        charges: list[float] = []

        def charge(headers: Mapping[str, Any], _body: Any) -> None:
            with contextlib.suppress(TypeError, ValueError):
                charges.append(float((headers or {}).get("x-ms-request-charge", 0.0)))

        document_id, partition_key = merged_keys(indicator_type, canonical_value)
        try:
            item: dict[str, Any] = self.get_container().read_item(
                document_id, partition_key=partition_key, response_hook=charge
            )
        except CosmosHttpResponseError as err:
            if err.status_code == 404:
                return None, sum(charges)
            if err.status_code in (401, 403):
                raise self._classify(err, "reading a merged document") from None
            raise
        return item, sum(charges)

    def _classify(self, error: Any, doing: str) -> Exception:
        message = f"Cosmos DB ({self.conn_id}): HTTP {error.status_code} while {doing}"
        if error.status_code in (401, 403):
            from threatstream.exceptions import StoreAuthError

            return StoreAuthError(f"{message}; check the key or identity of the connection.")
        return error  # type: ignore[no-any-return]


def direct_store(cosmos_conn_id: str | None, container_name: str | None) -> DirectStore | None:
    """The store without Airflow when it gives what Airflow would: the connection is in its
    environment variable in JSON form with an endpoint and an account key, no secrets backend
    could hold another, and the remembered settings match this configuration. Else None."""
    conn_id = cosmos_conn_id or COSMOS_CONN_ID
    connection = _key_connection(conn_id)
    if connection is None:
        return None
    profile = _load_profile()
    if profile is None or profile.secrets_backend:
        return None
    endpoint, key, extras = connection
    return DirectStore(
        conn_id,
        endpoint=endpoint,
        key=key,
        extras=extras,
        container_name=container_name or profile.merged_container,
        policy=profile.policy,
    )


def lookup_result(
    value: str,
    type: str | None = None,
    *,
    cosmos_conn_id: str | None = None,
    container_name: str | None = None,
    now: datetime | None = None,
) -> LookupResult:
    """Canonicalise ``value`` and point-read its merged document (see :func:`lookup`)."""
    canonical = canonical_candidates(value, type)
    moment = now or datetime.now(UTC)
    reader: MergedReader | None = direct_store(cosmos_conn_id, container_name)
    if reader is None:
        hook = bounded_hook(cosmos_conn_id, container_name)
        _save_profile(hook)
        reader = hook
    return read_first(reader, canonical, moment)


def read_first(
    hook: MergedReader, candidates: Sequence[tuple[IndicatorType, str]], now: datetime
) -> LookupResult:
    """Point-read the candidates in order; the first merged document found, with its
    ``current_score`` at ``now`` and without Cosmos DB's system properties."""
    from threatstream.merged.merge import public_record

    result = LookupResult(record=None)
    for kind, canonical_value in candidates:
        result.tried.append((kind.value, canonical_value))
        document, charge = hook.read_merged(kind.value, canonical_value)
        result.request_charge += charge
        if document is not None:
            result.record = public_record(document, now, hook.policy)
            break
    return result


def lookup(value: str, type: str | None = None) -> dict[str, Any] | None:
    """The merged record of an indicator value, or None when no source reports it.

    :param value: the value as a SOC analyst has it (any spelling the pipeline canonicalises).
    :param type: the indicator type (``IPv4``, ``domain``, ``URL``, ``FileHash-SHA256`` ...);
        detected from the value when omitted.
    :returns: the merged document (sources, tags, TLP, first/last seen, stored ``score``)
        plus ``current_score``, the score decayed up to now.
    :raises InvalidIndicator: when the value cannot be canonicalised.
    """
    return lookup_result(value, type).record


def render_text(result: LookupResult) -> str:
    """A readable account of a lookup."""
    record = result.record
    if record is None:
        tried = ", ".join(f"{kind} {value}" for kind, value in result.tried)
        return f"not found ({tried}); {result.request_charge:g} RU"
    lines = [
        f"{record['indicator_type']} {record['indicator_value']}",
        f"  score      {record['current_score']} now ({record['score']} as of {record['score_as_of']})",
        f"  sources    {record['source_count']}: {', '.join(record['source_names'])}",
        f"  seen       {record['first_seen']} .. {record['last_seen']}",
        f"  expires    {record['expires_at']}",
        f"  tlp        {record.get('tlp') or '-'}",
        f"  tags       {', '.join(record['tags']) or '-'}",
    ]
    if record.get("warninglists"):
        lines.append(
            f"  warning    on MISP warninglists {', '.join(record['warninglists'])}: "
            "likely benign, scored lower"
        )
    for entry in record["sources"]:
        confidence = entry["confidence"] if entry["confidence"] is not None else "-"
        lines.append(
            f"  - {entry['source']}: reported {entry['first_reported']} .. {entry['last_reported']}, "
            f"confidence {confidence}, tlp {entry['tlp'] or '-'}, expires {entry['expires_at']}"
        )
        if entry.get("reference"):
            lines.append(f"      {entry['reference']}")
    lines.append(f"  ({result.request_charge:g} RU, point read of {record['id']})")
    return "\n".join(lines)


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line, known secrets replaced by ``***``, at most ``limit`` characters."""
    for secret in _SECRETS:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def store_error_message(error: BaseException, conn_id: str) -> str:
    """What went wrong with the store or its configuration, without the details that leak."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
    from azure.cosmos.exceptions import CosmosHttpResponseError

    if "airflow" in sys.modules:  # only Airflow's lookup raises "not defined"
        from threatstream.connections import is_not_found, missing_connection_message
        from threatstream.exceptions import ConnectionMissingError

        if isinstance(error, ConnectionMissingError) or is_not_found(error):
            return missing_connection_message(conn_id)
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        reason = str(error).rsplit(":", 1)[-1].strip() or type(error).__name__
        return f"the store of connection {conn_id!r} cannot be reached: {reason}"
    if isinstance(error, CosmosHttpResponseError):
        hint = "; check the key or identity of the connection" if error.status_code in (401, 403) else ""
        return f"the store of connection {conn_id!r} answered HTTP {error.status_code}{hint}"
    if isinstance(error, ClientAuthenticationError):
        return f"connection {conn_id!r}: could not sign in to the store ({type(error).__name__})"
    first = str(error).splitlines()[0] if str(error) else ""
    return f"connection {conn_id!r}: {type(error).__name__}: {first}".rstrip(": ")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one bounded line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(one_line(f"{self.prog}: {message} (see --help)"), file=sys.stderr)
        raise SystemExit(EXIT_INVALID)


def _fail(status: int, message: str) -> int:
    print(one_line(f"threatstream lookup: {message}"), file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``threatstream``."""
    parser = _Parser(
        prog="threatstream",
        description=__doc__.splitlines()[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    lookup_parser = commands.add_parser(
        "lookup",
        help="look an indicator value up in the merged view",
        description="Look an indicator value up in the merged view.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lookup_parser.add_argument("value")
    lookup_parser.add_argument("--type", choices=INDICATOR_TYPES)
    lookup_parser.add_argument("--json", action="store_true", help="print the record as JSON")
    lookup_parser.add_argument("--conn-id", help="Cosmos DB connection (default threatstream_cosmos)")
    lookup_parser.add_argument("--container", help="merged container (default indicators_merged)")
    args = parser.parse_args(argv)
    try:
        canonical_candidates(args.value, args.type)
    except InvalidIndicator as err:
        return _fail(EXIT_INVALID, f"invalid value: {err}")
    # Airflow logs to stdout; only its errors may mix with the answer (or the --json output).
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    conn_id = args.conn_id or COSMOS_CONN_ID
    try:
        result = lookup_result(
            args.value, args.type, cosmos_conn_id=args.conn_id, container_name=args.container
        )
    except StoreConfigError as err:
        return _fail(EXIT_STORE_ERROR, str(err))
    except Exception as err:
        return _fail(EXIT_STORE_ERROR, store_error_message(err, conn_id))
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    if args.json:
        print(json.dumps({"record": result.record, "request_charge": result.request_charge}, indent=2))
    else:
        print(render_text(result))
    return EXIT_FOUND if result.record is not None else EXIT_NOT_FOUND


if __name__ == "__main__":
    sys.exit(main())
