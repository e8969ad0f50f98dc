"""Lists of strings as feeds write them."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from threatstream.parsing.string_lists import string_list


@given(
    st.lists(
        st.one_of(
            st.text(" \tab"),
            st.none(),
            st.integers(),
            st.dictionaries(st.sampled_from(["id", "name"]), st.text("ab ")),
        )
    )
)
def test_string_list_gives_each_named_non_blank_item_stripped(items: list[Any]) -> None:
    def name(item: Any) -> str:
        named = (item.get("name") or item.get("id")) if isinstance(item, dict) else item
        return "" if named is None else str(named).strip()

    assert string_list(items) == tuple(filter(None, map(name, items)))


def test_string_list_accepts_null_strings_and_objects() -> None:
    assert string_list(None) == ()
    assert string_list(["a", " b ", "", None]) == ("a", "b")
    assert string_list([{"id": "x", "name": "Emotet", "display_name": "Emotet (bot)"}, {"id": "T1059"}]) == (
        "Emotet (bot)",
        "T1059",
    )
