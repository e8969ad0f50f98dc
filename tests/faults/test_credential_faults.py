"""A server that echoes the credentials it received: no form of them reaches an exception or a log.

Every hook authenticates its own way (an API-key header, HTTP Basic, a Bearer token); the
hostile server answers with an error body (and a header) that repeat the request's headers
verbatim. The redaction is the transport's (:mod:`threatstream.feeds.credentials`), so each
source is checked through its own hook, and the TAXII DAG end to end, task log included.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.exceptions import FeedAuthError, FeedRequestError, FeedUnavailableError
from threatstream.feeds.credentials import Credentials, spellings
from threatstream.feeds.hook import FeedHook
from threatstream.sources import all_sources, get_source
from threatstream_dev.hostile_feed import Behaviour, HostileFeedServer, Reply, raw_body
from threatstream_dev.runs import RunOutcome, run_dag_file

pytestmark = pytest.mark.replay

FaultCase = Callable[[str, str, str], None]
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
KEY = "Zk9x-7Qp/2+vL3mN8sR4tW6yA1bC5dE0"
LOGIN = "soc-analyst"
BASIC_TOKEN = base64.b64encode(f"{LOGIN}:{KEY}".encode()).decode()


def echo_headers(code: int) -> Behaviour:
    """An error whose body (JSON, TAXII-style) and ``WWW-Authenticate`` header repeat the request headers."""

    def behave(reply: Reply) -> None:
        headers = reply.request.headers
        body = {
            "title": "Request rejected",
            "description": f"headers received: {json.dumps(headers)}",
            "http_status": str(code),
            "echo": headers,
        }
        extra = {"X-Debug-Authorization": headers.get("Authorization", "")}
        raw_body(json.dumps(body), status=code, headers=extra)(reply)

    return behave


def all_forms() -> set[str]:
    """What must never appear: the key, the Basic token (with and without its scheme), escaped too."""
    return {form for secret in (KEY, BASIC_TOKEN, f"Basic {BASIC_TOKEN}") for form in spellings(secret)}


def leaked(text: str) -> list[str]:
    """Every form of the credential in ``text``, or any 12 characters of one (a form cut short)."""
    pieces = {form[i : i + 12] for form in all_forms() for i in range(len(form) - 11)}
    return sorted(piece for piece in pieces if piece in text)


def _connection(server: HostileFeedServer, *, login: str | None = None) -> str:
    document = json.loads(server.connection_json("urlhaus", key=KEY))
    if login:
        document["login"] = login
    return json.dumps(document)


#: Every registered source whose hook sends a credential, and TAXII both ways it authenticates.
AUTH_CASES: list[tuple[str, str | None]] = [
    (spec.name, None) for spec in all_sources() if spec.hook_class.auth_header or spec.name == "taxii"
]
AUTH_CASES.append(("taxii", LOGIN))


@pytest.mark.parametrize(
    ("source", "login"), AUTH_CASES, ids=[f"{s}-{'basic' if lg else 'key'}" for s, lg in AUTH_CASES]
)
@pytest.mark.parametrize("code", [400, 401, 503])
def test_an_echoed_credential_never_reaches_the_error_or_the_log(
    source: str,
    login: str | None,
    code: int,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault_case: FaultCase,
) -> None:
    spec = get_source(source)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{spec.hook_class.default_conn_name.upper()}", _connection(hostile, login=login)
    )
    hostile.route("/echo", echo_headers(code))
    hook: FeedHook = spec.hook_class(max_attempts=2, backoff_initial=0.01)
    caplog.set_level(logging.DEBUG)
    expected = {400: FeedRequestError, 401: FeedAuthError, 503: FeedUnavailableError}[code]
    with pytest.raises(expected) as caught:
        hook.get("echo")
    hook.close()
    sent = hostile.requests("/echo")[0]
    assert sent.carries(KEY) or sent.carries(BASIC_TOKEN), "the hook sent no credential to check"
    message = str(caught.value)
    assert "***" in message  # the echo was there, redacted
    assert leaked(message) == []
    assert leaked(caplog.text) == []
    if source == "taxii":
        fault_case(
            f"taxii ({'Basic' if login else 'Bearer'} auth): HTTP {code} echoing the Authorization header",
            "the error and the log show *** for every form of the credential",
            f"{type(caught.value).__name__}, no form of the credential in it or in the log",
        )


def test_every_spelling_of_every_form_is_redacted() -> None:
    credentials = Credentials()
    credentials.add([KEY, BASIC_TOKEN, f"Basic {BASIC_TOKEN}"])
    text = " | ".join(sorted(all_forms()))
    assert leaked(credentials.redact(text)) == []
    assert credentials.redact("nothing secret here") == "nothing secret here"


def test_credentials_are_registered_with_airflows_masker() -> None:
    from airflow.sdk.log import mask_secret  # noqa: F401 - the masker the credentials go to

    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # older layout
        from airflow.sdk.execution_time.secrets_masker import redact  # type: ignore[no-redef,import-not-found,unused-ignore]
    token = base64.b64encode(b"someone:an-unusual-password-42").decode()
    Credentials().add([token])
    assert token not in str(redact(f"Authorization: Basic {token}"))


@pytest.mark.dagrun
def test_dag_taxii_basic_credential_echoed_is_not_in_the_task_log(
    airflow_db: Any,
    cosmos_database: str,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    fault_case: FaultCase,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_TAXII", _connection(hostile, login=LOGIN))
    hostile.route("/taxii2/", echo_headers(400))
    caplog.set_level(logging.INFO)
    outcome: RunOutcome = run_dag_file(
        str(DAGS_FOLDER), "threatstream_taxii", datetime(2026, 11, 28, 12, tzinfo=UTC)
    )
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1  # a 400 is the request's fault: no retry
    assert hostile.requests("/taxii2/")[0].carries(BASIC_TOKEN)
    captured = capfd.readouterr()
    log_text = captured.out + captured.err + caplog.text
    assert "HTTP 400" in log_text  # the failure is in the log ...
    assert leaked(log_text) == []  # ... without the credential
    fault_case(
        "DAG taxii: discovery answers 400 echoing the Basic Authorization header",
        "fetch red after one try; the task log names the error without the credential",
        "red, 1 try, no form of the credential in the log",
    )
