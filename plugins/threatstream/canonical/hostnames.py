"""Host names and domains: lower-case IDNA A-labels, checked label by label."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import idna

from threatstream.canonical.errors import InvalidIndicator, excerpt
from threatstream.canonical.refang import refang_host_text
from threatstream.canonical.text import (
    HOSTNAME_MAX_CHARS,
    LABEL_MAX_CHARS,
    WHITESPACE_RE,
    CanonicalIndicator,
    prepare,
)
from threatstream.canonical.vocabulary import IndicatorType

# RFC 2181 section 11: any octet is legal in a DNS label; host names in practice (and RFC 3986
# reg-names) use letters, digits, hyphens and underscores (``_dmarc``, ``sub_sub2``).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_LABEL_RE = re.compile(_LABEL)
# E-mail domains follow RFC 5321 (letters, digits, inner hyphens: no underscore).
_LDH_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_FAST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_FAST_HOST_RE = re.compile(rf"(?:{_FAST_LABEL}\.)+{_FAST_LABEL}")
ANY_CASE_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_ACE_PREFIX = "xn--"


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def plain_host_name(host: str) -> bool:
    """Whether ``host``, made of plain ASCII labels (:data:`_FAST_LABEL`), is a canonical host
    name as it stands: not too long, without A-labels to check, with a non-numeric TLD."""
    return (
        len(host) <= HOSTNAME_MAX_CHARS and _ACE_PREFIX not in host and not host.rpartition(".")[2].isdigit()
    )


def checked_hostname(text: str, reason: str, *, underscore: bool = True) -> str:
    """Canonicalise a stripped host name, raising ``reason`` for a malformed one."""
    if text.isascii():
        host = text.lower().removesuffix(".")
        if (underscore or "_" not in host) and _FAST_HOST_RE.fullmatch(host) and plain_host_name(host):
            return host
    else:
        try:
            host = idna.uts46_remap(text, std3_rules=False).removesuffix(".")
        except (idna.IDNAError, UnicodeError) as err:
            raise InvalidIndicator(reason, f"{excerpt(text)}: {err}") from None
    if _is_ip_address(host):
        raise InvalidIndicator("not_a_hostname", f"{excerpt(text)} is an IP address, not a host name")
    label_re = _LABEL_RE if underscore else _LDH_LABEL_RE
    allowed = (
        "letters, digits, underscores, inner hyphens" if underscore else "letters, digits, inner hyphens"
    )
    out: list[str] = []
    for raw_label in host.split("."):
        if not raw_label:
            raise InvalidIndicator(reason, f"{excerpt(text)} has an empty label")
        label = raw_label
        if not raw_label.isascii():
            try:
                label = idna.alabel(raw_label).decode("ascii")
            except (idna.IDNAError, UnicodeError) as err:
                raise InvalidIndicator(
                    reason, f"{excerpt(text)}: label {excerpt(raw_label)}: {err}"
                ) from None
        elif raw_label.startswith(_ACE_PREFIX):
            _check_a_label(raw_label, text, reason)
        if len(label) > LABEL_MAX_CHARS:
            raise InvalidIndicator(reason, f"{excerpt(text)}: label longer than {LABEL_MAX_CHARS}")
        if not label_re.fullmatch(label):
            raise InvalidIndicator(reason, f"{excerpt(text)}: label {excerpt(label)} is not {allowed}")
        out.append(label)
    if len(out) < 2:
        raise InvalidIndicator(reason, f"{excerpt(text)} needs at least two labels")
    if out[-1].isdigit():
        raise InvalidIndicator(reason, f"{excerpt(text)}: top-level label is all-numeric")
    canonical = ".".join(out)
    if len(canonical) > HOSTNAME_MAX_CHARS:
        raise InvalidIndicator(reason, f"{excerpt(text)}: longer than {HOSTNAME_MAX_CHARS} characters")
    return canonical


def _check_a_label(label: str, text: str, reason: str) -> None:
    """An ASCII ``xn--`` label must be the canonical A-label of a valid, UTS46-mapped U-label."""
    try:
        ulabel = idna.ulabel(label)
        valid = (
            not ulabel.isascii()
            and idna.uts46_remap(ulabel, std3_rules=False) == ulabel
            and idna.alabel(ulabel).decode("ascii") == label
        )
    except (idna.IDNAError, UnicodeError) as err:
        raise InvalidIndicator(reason, f"{excerpt(text)}: label {excerpt(label)}: {err}") from None
    if not valid:
        raise InvalidIndicator(reason, f"{excerpt(text)}: {excerpt(label)} is not a canonical A-label")


def host_name(text: str) -> str:
    """The canonical host name of a prepared, refanged text (``invalid_hostname``)."""
    if WHITESPACE_RE.search(text):
        raise InvalidIndicator("invalid_hostname", f"{excerpt(text)} contains whitespace")
    if len(text) > 4 * HOSTNAME_MAX_CHARS:
        raise InvalidIndicator("invalid_hostname", f"{excerpt(text)}: far longer than a host name can be")
    return checked_hostname(text, "invalid_hostname")


def canonical_hostname(value: str) -> str:
    """Lower-case, IDNA (UTS46) A-label host name without trailing dot; used for domains too.

    Plain-ASCII labels are checked for letters, digits, underscores and inner hyphens only (so
    DNS names such as ``r3---sn-abc.googlevideo.com``, which IDNA2008 would refuse, and
    ``_dmarc.example.com`` are accepted); labels with non-ASCII characters, and ``xn--``
    labels, are validated by ``idna``.
    """
    return host_name(refang_host_text(prepare(value)))


def host_shortcut(kind: IndicatorType) -> Callable[[str], CanonicalIndicator | None]:
    """The shortcut of ``kind`` (domain, hostname): a plain host name already canonical, or None."""

    def canonical_host(text: str) -> CanonicalIndicator | None:
        if _FAST_HOST_RE.fullmatch(text) and plain_host_name(text):
            return CanonicalIndicator(kind, text)
        return None

    return canonical_host
