"""Every form in which a connection's credential travels, redacted in one place.

A credential reaches a server as the raw password or API key (the feed's key header, a
Bearer token), as an HTTP Basic token (base64 of ``login:password``), inside any header
that carries authentication, or as the password in a URL. A server may echo any of them
back, in an error body or a header. :class:`Credentials` collects every such form from a
configured ``requests`` session, registers each with Airflow's secrets masker (task logs
and rendered fields) and replaces them in every message a hook builds (exceptions, retry
warnings): one mechanism for all hooks, whatever their authentication.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, urlsplit

import requests
from requests.auth import HTTPBasicAuth, _basic_auth_str

from threatstream.compat import mask_secret

#: What a redacted credential is replaced with.
REDACTED = "***"
#: Header names whose values are credentials, whatever the feed calls its key header.
_SENSITIVE_HEADER = re.compile(r"(?i)auth|key|token|secret|password|cookie|session|signature")
#: ``<scheme> <token>`` authorization values: the token alone is a credential too.
_SCHEME_TOKEN = re.compile(r"^\s*[A-Za-z][A-Za-z0-9_-]*\s+(?P<token>\S.*?)\s*$")
#: Shorter values are not redacted: they would mangle every message and guard nothing.
MIN_SECRET_LENGTH = 4


def spellings(secret: str) -> set[str]:
    """``secret`` as a server may echo it: raw, JSON-escaped, URL-encoded."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        secret.replace("/", "\\/"),
        quote(secret, safe=""),
        quote_plus(secret),
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def header_secrets(headers: Mapping[str, str | bytes]) -> set[str]:
    """The credentials carried by ``headers``: whole values of sensitive headers, and their tokens."""
    found: set[str] = set()
    for name, raw in headers.items():
        if not _SENSITIVE_HEADER.search(str(name)):
            continue
        value = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        found.add(value)
        scheme = _SCHEME_TOKEN.match(value)
        if scheme:
            found.add(scheme["token"])
    return found


def session_secrets(session: requests.Session, base_url: str = "") -> set[str]:
    """Every credential ``session`` sends: its key headers, its Basic auth, a URL password."""
    found = header_secrets(session.headers)
    auth = session.auth
    if isinstance(auth, HTTPBasicAuth):
        basic = _basic_auth_str(auth.username, auth.password)
        found |= {str(auth.password), basic, basic.partition(" ")[2]}
    elif isinstance(auth, tuple) and len(auth) == 2:
        basic = _basic_auth_str(*auth)
        found |= {str(auth[1]), basic, basic.partition(" ")[2]}
    password = urlsplit(base_url).password if base_url else None
    if password:
        found.add(password)
    return found


class Credentials:
    """The credentials one hook sends, and the redaction of all their forms from text."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str | None]) -> None:
        """Register credentials (each in every spelling) with this redactor and Airflow's masker."""
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET_LENGTH:
                continue
            for form in spellings(secret) - self._forms:
                self._forms.add(form)
                mask_secret(form)
            self._pattern = None

    def add_session(self, session: requests.Session, base_url: str = "", *extra: str | None) -> None:
        """Register everything ``session`` sends as a credential, plus ``extra`` values."""
        self.add([*session_secrets(session, base_url), *extra])

    def redact(self, text: str) -> str:
        """``text`` with every known form of every credential replaced by ``***``."""
        if not self._forms or not text:
            return text
        if self._pattern is None:
            # Longest first: a Basic token is replaced whole, not around the password inside it.
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return self._pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return bool(self._forms)
