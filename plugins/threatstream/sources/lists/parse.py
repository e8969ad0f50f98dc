"""One list record -> one observation, as its spec says."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from threatstream.canonical.addresses import ip_indicator_type
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.lists.spec import FieldSpec, ListSpec, compile_regex

IP_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6})


def _cell(spec: ListSpec, record: Mapping[str, Any], column: str | int | None) -> str | None:
    if column is None:
        return cast(str, record["text"])
    fields: Mapping[str, str] = record["fields"]
    if isinstance(column, int):
        cells = list(fields.values())
        raw = cells[column] if -len(cells) <= column < len(cells) else None
    else:
        raw = fields.get(column)
    if raw is None:
        return None
    value = raw.strip()
    return None if value in spec.null_values else value


def _extract(
    spec: ListSpec, record: Mapping[str, Any], field: FieldSpec
) -> tuple[str | None, dict[str, str]]:
    """The field's value (a regex's ``value`` group or whole match) and its other named groups."""
    value = _cell(spec, record, field.column)
    if value is None or field.regex is None:
        return value, {}
    match = compile_regex(field.regex).search(value)
    if match is None:
        raise InvalidIndicator("no_match", f"{value[:80]!r} does not match {field.regex!r}")
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    return groups.pop("value", match.group(0)), groups


def _optional(spec: ListSpec, record: Mapping[str, Any], field: FieldSpec | None) -> str | None:
    return None if field is None else _extract(spec, record, field)[0]


def _tags(spec: ListSpec, record: Mapping[str, Any]) -> Iterator[str]:
    """The tags of every tag field, in order: split, stripped, without blanks and excluded values."""
    for field in spec.tag_fields:
        text = _extract(spec, record, field)[0]
        if text is None:
            continue
        separator = spec.tags_separator if field.separator is None else field.separator
        for part in text.split(separator) if separator else (text,):
            tag = part.strip()
            if tag and tag not in field.exclude:
                yield tag


def _confidence(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and int(text) <= 100 else None


def parse_list_record(spec: ListSpec, record: Mapping[str, Any]) -> Observation:
    """One data line -> one observation, as the spec says."""
    if "error" in record:
        reason = record.get("reason", "malformed_row")
        raise InvalidIndicator(reason, f"line {record['line']}: {record['error']}")
    value_field = spec.value
    if spec.indicator_type is not None:
        indicator_type = spec.indicator_type
    else:
        label = _cell(spec, record, spec.type_column)
        rule = spec.rules.get(label or "")
        if rule is None:
            raise InvalidIndicator("unknown_type", f"type {label!r} is not in the spec's type_map")
        indicator_type = rule.type
        if rule.regex is not None:
            value_field = FieldSpec(column=value_field.column, regex=rule.regex)
    value, groups = _extract(spec, record, value_field)
    if value is None:
        raise InvalidIndicator("empty", f"line {record['line']} has no value")
    if indicator_type in IP_TYPES:
        indicator_type = ip_indicator_type(value)
    metadata: dict[str, Any] = {"line": record["line"], **groups}
    metadata.update({str(column): _cell(spec, record, column) for column in spec.metadata_columns})
    return new_observation(
        {
            "indicator_type": indicator_type,
            "value": value,
            "confidence": _confidence(_optional(spec, record, spec.confidence)),
            "tags": (*_tags(spec, record), *spec.static_tags),
            "tlp": spec.tlp,
            "first_seen": parse_timestamp(_optional(spec, record, spec.first_seen)),
            "last_seen": parse_timestamp(_optional(spec, record, spec.last_seen)),
            "raw_metadata": metadata,
        }
    )
