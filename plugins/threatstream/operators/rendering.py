"""Reading templated operator arguments after rendering, the same way in every operator."""

from __future__ import annotations

from threatstream.compat import AirflowFailException

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", "", "none"})


def rendered_flag(value: object, name: str) -> bool:
    """A templated yes/no argument: ``True``/``False`` (native rendering) or their text forms.

    :raises AirflowFailException: any other value (a bad setting fails at once, not after retries).
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AirflowFailException(f"{name} must be true or false, got {str(value)[:40]!r}")
