"""URLs and URIs: an absolute http(s)/ftp(s) URI is a URL, in canonical form; any other URI is text."""

from __future__ import annotations

import re

from threatstream.canonical.addresses import (
    DOTTED_QUAD_RE,
    global_dotted_quad,
    parse_address,
    require_global,
)
from threatstream.canonical.errors import InvalidIndicator, excerpt
from threatstream.canonical.hostnames import ANY_CASE_LABEL, checked_hostname, plain_host_name
from threatstream.canonical.refang import AUTHORITY_END_RE, WEB_URL_RE, refang_url_text
from threatstream.canonical.text import (
    TEXT_MAX_BYTES,
    URL_MAX_BYTES,
    WHITESPACE_RE,
    CanonicalIndicator,
    check_size,
    prepare,
)
from threatstream.canonical.vocabulary import IndicatorType

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ftps": 990}
_PORT_RE = re.compile(r"[0-9]{1,5}")
_PCT_RE = re.compile(r"%([0-9a-fA-F]{2})")


def _upper_escapes(text: str) -> str:
    if "%" not in text:
        return text
    return _PCT_RE.sub(lambda m: "%" + m.group(1).upper(), text)


def _url_host(host: str, url: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidIndicator("invalid_url", f"{excerpt(url)}: unterminated IPv6 literal")
        literal = host[1:-1]
        if "%" in literal:
            raise InvalidIndicator("invalid_host", f"{excerpt(url)}: IPv6 zone ids are not accepted")
        if ":" not in literal:
            raise InvalidIndicator("invalid_host", f"{excerpt(url)}: bad IPv6 literal {excerpt(host)}")
        address6 = parse_address(literal, "invalid_host")
        require_global(address6)
        # An IPv4-mapped literal is the IPv4 host it carries.
        return address6.text if address6.version == 4 else f"[{address6.text}]"
    if not host:
        raise InvalidIndicator("invalid_url", f"{excerpt(url)} has no host")
    plain = host.removesuffix(".")
    if DOTTED_QUAD_RE.fullmatch(plain):
        address4 = parse_address(plain)
        require_global(address4)
        return address4.text
    try:
        return checked_hostname(host, "invalid_host")
    except InvalidIndicator as err:
        if err.reason == "not_a_hostname":  # e.g. an unbracketed IPv6 address after UTS46 mapping
            raise InvalidIndicator("invalid_host", f"{excerpt(url)}: {err.message}") from None
        raise


# A URL whose canonical form takes no parsing: plain ASCII host name (or dotted quad) in any
# case, no user info, a port without leading zeros, and a path, query and fragment without
# whitespace, backslashes, square brackets (defanging) or control characters. Such a text needs
# no stripping, checking for bad characters or refanging; its canonical form only lower-cases
# scheme and host, drops a default port, upper-cases percent-escapes and adds a missing "/".
_SIMPLE_URL_RE = re.compile(
    rf"([Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp][Ss]?)://({ANY_CASE_LABEL}(?:\.{ANY_CASE_LABEL})+)"
    r"(?::([1-9][0-9]{0,4}))?([/?#][^\s\\\[\]\x00-\x1f\x7f-\x9f\ud800-\udfff]*)?"
)


def url_indicator(text: str) -> CanonicalIndicator:
    """The canonical URL: at once for a simple URL, else parsed."""
    simple = _SIMPLE_URL_RE.fullmatch(text)
    if simple is None:
        return _parsed_url(text)
    return _simple_url(text, simple)


def _simple_url(text: str, simple: re.Match[str]) -> CanonicalIndicator:
    """The canonical form of a URL that matched :data:`_SIMPLE_URL_RE` (``simple``)."""
    check_size(text, URL_MAX_BYTES)
    scheme, host, port, tail = simple.groups()
    unchanged = text[: simple.end(2)].islower()  # scheme and host (ASCII) already lower-case
    if not unchanged:
        scheme, host = scheme.lower(), host.lower()
    if port is not None:
        number = int(port)
        if number > 65535:
            return _parsed_url(text)
        if number == _DEFAULT_PORTS[scheme]:
            port, unchanged = None, False
    if host.rpartition(".")[2].isdigit():  # only a global dotted quad can end in digits
        if not DOTTED_QUAD_RE.fullmatch(host):
            return _parsed_url(text)
        global_dotted_quad(host)
    elif not plain_host_name(host):
        return _parsed_url(text)
    if not tail or tail[0] != "/":  # empty path (RFC 3986 section 6.2.3)
        tail, unchanged = f"/{tail or ''}", False
    if "%" in tail and (escaped := _upper_escapes(tail)) != tail:
        tail, unchanged = escaped, False
    if unchanged:
        return CanonicalIndicator(IndicatorType.URL, text)
    canonical = f"{scheme}://{host}{'' if port is None else ':' + port}{tail}"
    check_size(canonical, URL_MAX_BYTES)
    return CanonicalIndicator(IndicatorType.URL, canonical)


def _parsed_url(text: str) -> CanonicalIndicator:
    check_size(text, URL_MAX_BYTES)
    if WHITESPACE_RE.search(text):
        raise InvalidIndicator("invalid_url", f"{excerpt(text)} contains whitespace")
    match = _SCHEME_RE.match(text)
    if match is None:
        raise InvalidIndicator("invalid_url", f"{excerpt(text)} has no scheme")
    scheme = match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidIndicator("invalid_url", f"{excerpt(text)}: scheme {scheme!r} is not http(s) or ftp(s)")
    start = match.end()
    if not text.startswith("//", start):
        raise InvalidIndicator("invalid_url", f"{excerpt(text)} has no //host")
    start += 2
    end = AUTHORITY_END_RE.search(text, start)
    authority, tail = (text[start:], "") if end is None else (text[start : end.start()], text[end.start() :])
    if "\\" in authority:
        raise InvalidIndicator("invalid_url", f"{excerpt(text)}: backslash in the authority")

    userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise InvalidIndicator("invalid_url", f"{excerpt(text)}: unterminated IPv6 literal")
        host, port_part = hostport[: close + 1], hostport[close + 1 :]
    else:
        host, colon, digits = hostport.partition(":")
        port_part = colon + digits
    port = ""
    if port_part:
        digits = port_part[1:]
        if not port_part.startswith(":") or (digits and not _PORT_RE.fullmatch(digits)):
            raise InvalidIndicator("invalid_url", f"{excerpt(text)}: invalid port {excerpt(port_part)}")
        if digits:
            number = int(digits)
            if not 0 < number <= 65535:
                raise InvalidIndicator("invalid_url", f"{excerpt(text)}: port {number} out of range")
            if number != _DEFAULT_PORTS[scheme]:
                port = f":{number}"

    canonical_host = _url_host(host, text)

    if not tail or tail[0] != "/":  # empty path (RFC 3986 section 6.2.3)
        tail = "/" + tail
    canonical = f"{scheme}://{userinfo}{at}{canonical_host}{port}{_upper_escapes(tail)}"
    check_size(canonical, URL_MAX_BYTES)
    return CanonicalIndicator(IndicatorType.URL, canonical)


def canonical_url(value: str) -> str:
    """Canonical http(s)/ftp(s) URL.

    Scheme and host lower-cased, host as IDNA A-label (or canonical IP), default port dropped,
    empty path made ``/``, percent-escapes' hex digits upper-cased; everything else (userinfo,
    path, query, fragment) kept as received -- escapes are not decoded, nothing is re-encoded.
    """
    return url_indicator(refang_url_text(prepare(value))).value


def uri_indicator(text: str) -> CanonicalIndicator:
    """An absolute http(s)/ftp(s) URI is a URL; any other URI (a path, ``mailto:``...) is text."""
    if WEB_URL_RE.match(text):
        return url_indicator(text)
    check_size(text, TEXT_MAX_BYTES)
    return CanonicalIndicator(IndicatorType.URI, text)


def url_shortcut(text: str) -> CanonicalIndicator | None:
    """The canonical URL of a text that needs no preparing or refanging, or None."""
    simple = _SIMPLE_URL_RE.fullmatch(text)
    return None if simple is None else _simple_url(text, simple)
