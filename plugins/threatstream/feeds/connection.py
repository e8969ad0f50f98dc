"""The ``threatstream_feed`` connection type: its form in the Airflow UI, declared once.

:data:`FEED_EXTRAS` (the typed extras: request timeout and the :class:`~threatstream.feeds.limits.FeedLimits`)
and :data:`FIELD_BEHAVIOUR` (password relabelled "API key", login hidden) feed both forms Airflow
reads: the provider info's ``conn-fields`` / ``ui-field-behaviour`` (Airflow 3.2+, no hook
import) and the hook classmethods of :class:`FeedConnectionMixin` (Airflow 3.0 / 3.1, which
import wtforms lazily, as the Azure provider does). This module imports nothing heavy: the
provider info loads it whenever Airflow lists its providers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

#: The connection type the feed hooks register.
CONN_TYPE: Final = "threatstream_feed"


@dataclass(frozen=True)
class ExtraField:
    """A typed connection extra shown as its own form field.

    :param name: the key in the connection's extra JSON.
    :param label: the field's label.
    :param description: help text under the field.
    :param type: ``integer`` or ``number``.
    :param placeholder: hint shown in the empty field.
    """

    name: str
    label: str
    description: str
    type: Literal["integer", "number"]
    placeholder: str = ""

    def conn_field(self) -> dict[str, Any]:
        """The field in the provider info's ``conn-fields`` schema."""
        return {
            "label": self.label,
            "description": self.description,
            "schema": {"type": [self.type, "null"], "exclusiveMinimum": 0},
        }


#: Extras with a form field; empty means the source's own value (``docs/feed-limits.md``).
FEED_EXTRAS: Final[tuple[ExtraField, ...]] = (
    ExtraField(
        "timeout", "Timeout (s)", "Connect and read timeout of each request, seconds.", "number", "120"
    ),
    ExtraField(
        "max_body_bytes", "Max body bytes", "Largest response body, counted after decompression.", "integer"
    ),
    ExtraField(
        "max_request_seconds",
        "Max request seconds",
        "Longest wall-clock time of one request, redirects and body included.",
        "number",
    ),
    ExtraField("max_pages", "Max pages", "Most pages one run may fetch.", "integer"),
    ExtraField("max_records", "Max records", "Most records one run may fetch.", "integer"),
    ExtraField(
        "max_redirects", "Max redirects", "Most same-host redirects one request may follow.", "integer"
    ),
)

#: Which standard fields the form hides, relabels and hints at.
FIELD_BEHAVIOUR: Final[dict[str, Any]] = {
    "hidden_fields": ["login"],
    "relabeling": {"password": "API key", "host": "API host"},
    "placeholders": {
        "schema": "https",
        "host": "urlhaus-api.abuse.ch",
        "password": "the feed's API key (empty for feeds without one)",
        "extra": '{"Accept": "application/json"} (other extras are sent as headers)',
        **{extra.name: extra.placeholder or "the source's default" for extra in FEED_EXTRAS},
    },
}


def connection_type_info(hook_class_name: str) -> dict[str, Any]:
    """The provider info's ``connection-types`` entry, with the declarative form (Airflow 3.2+)."""
    return {
        "connection-type": CONN_TYPE,
        "hook-class-name": hook_class_name,
        "hook-name": FeedConnectionMixin.hook_name,
        "ui-field-behaviour": {
            "hidden-fields": list(FIELD_BEHAVIOUR["hidden_fields"]),
            "relabeling": dict(FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(FIELD_BEHAVIOUR["placeholders"]),
        },
        "conn-fields": {extra.name: extra.conn_field() for extra in FEED_EXTRAS},
    }


class FeedConnectionMixin:
    """Connection-type attributes and UI form of the feed hooks (``threatstream_feed``).

    Airflow before 3.2 reads the form only from the registered hook class's own ``__dict__``,
    so each subclass gets the two classmethods in its own namespace.
    """

    conn_type = CONN_TYPE
    conn_name_attr = "http_conn_id"
    default_conn_name = f"{CONN_TYPE}_default"
    hook_name = "ThreatStream feed"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("get_connection_form_widgets", "get_ui_field_behaviour"):
            if name not in cls.__dict__:
                setattr(cls, name, FeedConnectionMixin.__dict__[name])

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The typed extras as wtforms fields (imported here: the UI may run without them)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import NumberRange, Optional

        # wtforms fields Airflow accepts have no float type: a number is entered as text.
        classes = {"integer": IntegerField, "number": StringField}
        return {
            extra.name: classes[extra.type](
                lazy_gettext(extra.label),
                description=extra.description,
                validators=[Optional(), NumberRange(min=1)] if extra.type == "integer" else [Optional()],
                widget=BS3TextFieldWidget(),
            )
            for extra in FEED_EXTRAS
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Standard fields hidden, relabelled (the password is the API key) and hinted at."""
        return {key: value.copy() for key, value in FIELD_BEHAVIOUR.items()}
