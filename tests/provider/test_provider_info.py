"""The provider metadata: valid for Airflow, and derived from the settings and the connection form."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from importlib import resources
from typing import Any
from unittest import mock

import jsonschema
import pytest

from threatstream.feeds.connection import CONN_TYPE, FEED_EXTRAS, FIELD_BEHAVIOUR, FeedConnectionMixin
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.limits import LIMIT_NAMES, FeedLimits
from threatstream.provider_info import PACKAGE_NAME, get_provider_info
from threatstream.settings import SECTION, options
from threatstream.sources import all_sources


def _airflow_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((resources.files("airflow") / name).read_text())
    return loaded


def _subschema(name: str, *path: str) -> dict[str, Any]:
    """A part of one of Airflow's schemas, with the schema's definitions it refers to."""
    schema = _airflow_schema(name)
    part = schema
    for key in path:
        part = part[key]
    return {**part, "definitions": schema.get("definitions", {})}


@pytest.fixture(scope="module")
def info() -> dict[str, Any]:
    return get_provider_info()


@pytest.mark.compat
def test_validates_against_airflow_provider_info_schema(info: dict[str, Any]) -> None:
    """The running Airflow's runtime schema (3.0 / 3.1 do not list conn-fields, but accept them)."""
    jsonschema.validate(info, _airflow_schema("provider_info.schema.json"))
    assert info["package-name"] == PACKAGE_NAME


def test_config_and_connection_type_follow_the_provider_yaml_schema(info: dict[str, Any]) -> None:
    """The stricter development schema (``provider.yaml``) accepts both parts as well."""
    jsonschema.validate(info["config"], _subschema("provider.yaml.schema.json", "properties", "config"))
    connection_types = _subschema("provider.yaml.schema.json", "properties", "connection-types")
    jsonschema.validate(info["connection-types"], connection_types)


def test_config_section_declares_every_setting_with_its_default(info: dict[str, Any]) -> None:
    declared = info["config"][SECTION]["options"]
    assert list(declared) == [option.name for option in options()]
    for option in options():
        entry = declared[option.name]
        assert entry["type"] == option.type
        assert entry["description"] == option.spec.description
        assert option.parse(entry["default"]) == option.default


def test_connection_type_is_the_feed_hook_with_its_form(info: dict[str, Any]) -> None:
    (connection_type,) = info["connection-types"]
    assert connection_type["connection-type"] == CONN_TYPE == FeedHook.conn_type
    assert connection_type["hook-class-name"] == f"{FeedHook.__module__}.{FeedHook.__qualname__}"
    assert connection_type["hook-name"] == FeedHook.hook_name
    behaviour = connection_type["ui-field-behaviour"]
    assert behaviour["relabeling"]["password"] == "API key"
    assert behaviour["hidden-fields"] == FIELD_BEHAVIOUR["hidden_fields"]
    assert set(connection_type["conn-fields"]) == {extra.name for extra in FEED_EXTRAS}


def test_the_hook_form_matches_the_declared_one() -> None:
    """Airflow 3.0 / 3.1 read the form from the hook's own classmethods."""
    behaviour = FeedHook.get_ui_field_behaviour()
    jsonschema.validate(behaviour, _airflow_schema("customized_form_field_behaviours.schema.json"))
    assert behaviour == FIELD_BEHAVIOUR
    assert {"get_connection_form_widgets", "get_ui_field_behaviour"} <= set(FeedHook.__dict__)


def test_form_widgets_import_lazily_and_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without wtforms the form fails only when asked for; with it, numbers get typed fields."""
    for name in ("wtforms", "flask_appbuilder", "flask_babel"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with mock.patch.dict(sys.modules, {"wtforms": None}), pytest.raises(ImportError):
        FeedHook.get_connection_form_widgets()
    fake = mock.MagicMock()
    with mock.patch.dict(
        sys.modules,
        {
            "wtforms": fake,
            "wtforms.validators": fake.validators,
            "flask_babel": fake,
            "flask_appbuilder": fake,
            "flask_appbuilder.fieldwidgets": fake,
        },
    ):
        widgets = FeedHook.get_connection_form_widgets()
    assert list(widgets) == [extra.name for extra in FEED_EXTRAS]
    assert fake.IntegerField.call_count == sum(extra.type == "integer" for extra in FEED_EXTRAS)
    assert fake.StringField.call_count == sum(extra.type == "number" for extra in FEED_EXTRAS)


def test_typed_extras_cover_every_feed_limit() -> None:
    limit_types = {field.name: field.type for field in dataclasses.fields(FeedLimits)}
    extras = {extra.name: extra.type for extra in FEED_EXTRAS}
    assert set(extras) == LIMIT_NAMES | {"timeout"}
    for name, annotation in limit_types.items():
        assert extras[name] == ("integer" if annotation == "int" else "number"), name


def test_source_hooks_keep_their_own_default_connection() -> None:
    assert FeedHook.default_conn_name == f"{CONN_TYPE}_default"
    assert FeedConnectionMixin.conn_name_attr in inspect.signature(FeedHook.__init__).parameters
    for spec in all_sources():
        assert spec.hook_class.conn_type == CONN_TYPE
        assert spec.hook_class.default_conn_name == spec.conn_id == f"threatstream_{spec.name}"
