"""Refanging: threat reports "defang" indicators so that nobody clicks them by accident.

``hxxp://evil[.]example``, ``1.2.3(.)4``, ``user[at]example.com``: :func:`refang` undoes
that for network indicators before they are canonicalised.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from threatstream.canonical.text import coerce_type
from threatstream.canonical.vocabulary import IndicatorType

_DEFANG_HINT_RE = re.compile(r"[\[({]|^(?:hxxps?|fxps?)\b", re.IGNORECASE)
_DEFANGED_SCHEME_RE = re.compile(r"^(hxxp|fxp)(s?)(?=:|\[:)", re.IGNORECASE)
_BRACKETED_COLON_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)(?:\[:\]//|\[://\])")
_SQUARE_BRACKETED_RE = re.compile(r"\[(?:\.|dot|:|://|@|at)\]", re.IGNORECASE)
_ANY_BRACKETED_RE = re.compile(r"[\[({](?:\.|dot|:|://|@|at)[\])}]", re.IGNORECASE)
_REFANGED = {".": ".", "dot": ".", ":": ":", "://": "://", "@": "@", "at": "@"}
_REFANGED_SCHEMES = {"hxxp": "http", "fxp": "ftp"}

#: Where a URL's authority ends (RFC 3986 section 3.2), and the schemes of a web URL.
AUTHORITY_END_RE = re.compile(r"[/?#]")
WEB_URL_RE = re.compile(r"(?:https?|ftps?):", re.IGNORECASE)


def _unbracket(match: re.Match[str]) -> str:
    return _REFANGED[match.group()[1:-1].lower()]


def _unbracket_all(pattern: re.Pattern[str], text: str) -> str:
    """Replace bracketed forms until none is left (``[[.]]`` is ``.``), so refanging is idempotent."""
    while True:
        refanged = pattern.sub(_unbracket, text)
        if refanged == text:
            return text
        text = refanged  # strictly shorter: the loop ends


def refang_host_text(text: str) -> str:
    """Refang a host name, IP address, network or e-mail address: every bracket style."""
    if _DEFANG_HINT_RE.search(text) is None:
        return text
    return _unbracket_all(_ANY_BRACKETED_RE, text)


def refang_url_text(text: str) -> str:
    """Refang a URL: the scheme, every bracket style in the authority, ``[...]`` elsewhere.

    Round brackets and braces are legal in a path or query (RFC 3986 sub-delims), so after
    the authority only square brackets, which RFC 3986 allows nowhere but around an IPv6
    literal, are refanged.
    """
    if _DEFANG_HINT_RE.search(text) is None:
        return text
    text = _DEFANGED_SCHEME_RE.sub(
        lambda m: _REFANGED_SCHEMES[m.group(1).lower()] + m.group(2).lower(), text, count=1
    )
    text = _BRACKETED_COLON_RE.sub(r"\1://", text, count=1)
    marker = text.find("://")
    if marker < 0:
        return _unbracket_all(_SQUARE_BRACKETED_RE, text)
    start = marker + 3
    end = AUTHORITY_END_RE.search(text, start)
    stop = len(text) if end is None else end.start()
    authority = _unbracket_all(_ANY_BRACKETED_RE, text[start:stop])
    return text[:start] + authority + _unbracket_all(_SQUARE_BRACKETED_RE, text[stop:])


def refang_uri_text(text: str) -> str:
    """A URI is refanged only when it is (once its scheme is refanged) an absolute web URL."""
    if _DEFANG_HINT_RE.search(text) is None:
        return text
    refanged = refang_url_text(text)
    return refanged if WEB_URL_RE.match(refanged) else text


REFANGERS: dict[IndicatorType, Callable[[str], str]] = {
    IndicatorType.IPV4: refang_host_text,
    IndicatorType.IPV6: refang_host_text,
    IndicatorType.CIDR: refang_host_text,
    IndicatorType.DOMAIN: refang_host_text,
    IndicatorType.HOSTNAME: refang_host_text,
    IndicatorType.EMAIL: refang_host_text,
    IndicatorType.URL: refang_url_text,
    IndicatorType.URI: refang_uri_text,
}


def refang(indicator_type: IndicatorType | str, value: str) -> str:
    """The value with defanging undone (``hxxp://``, ``[.]``, ``(.)``, ``[:]//``, ``[at]``...).

    Only network indicators are refanged (addresses, networks, host names, e-mail addresses,
    URLs and absolute URIs); hashes and free text are returned as received.
    """
    refanger = REFANGERS.get(coerce_type(indicator_type))
    return value if refanger is None else refanger(value)
