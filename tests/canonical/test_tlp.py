"""TLP labels as feeds write them (TLP 1.0 and 2.0 spellings, STIX marking ids): mapped to TLP 2.0."""

from __future__ import annotations

import pytest

from threatstream.canonical.vocabulary import TLP, TLP1_MARKING_IDS, TLP2_MARKING_IDS, TLP_OF_MARKING


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("TLP:AMBER", TLP.AMBER),
        ("tlp:amber", TLP.AMBER),
        ("tlp amber", TLP.AMBER),
        ("TLP AMBER", TLP.AMBER),
        ("  Tlp :  Amber ", TLP.AMBER),
        ("amber", TLP.AMBER),
        ("WHITE", TLP.CLEAR),  # TLP 1.0
        ("tlp:white", TLP.CLEAR),
        ("TLP:CLEAR", TLP.CLEAR),
        ("clear", TLP.CLEAR),
        ("Green", TLP.GREEN),
        ("TLP-GREEN", TLP.GREEN),
        ("tlp_red", TLP.RED),
        ("red ", TLP.RED),
        ("AMBER+STRICT", TLP.AMBER_STRICT),
        ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
        ("amber + strict", TLP.AMBER_STRICT),
        ("Amber Strict", TLP.AMBER_STRICT),
        ("amber-strict", TLP.AMBER_STRICT),
        ("tlp: amber_strict", TLP.AMBER_STRICT),
        (TLP.RED, TLP.RED),
        # STIX 2.1 marking definitions: TLP 1.0 (STIX 2.1 specification) and TLP 2.0 (OASIS extension)
        ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP.CLEAR),
        ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", TLP.GREEN),
        ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", TLP.AMBER),
        ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLP.RED),
        ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", TLP.CLEAR),
        ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", TLP.GREEN),
        ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", TLP.AMBER),
        ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", TLP.AMBER_STRICT),
        ("MARKING-DEFINITION--E828B379-4E03-4974-9AC4-E53A884C97C1", TLP.RED),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_known_spellings_map_to_tlp_2(label: object, expected: TLP | None) -> None:
    assert TLP.from_label(label) is expected
    assert TLP.parse(label) is expected


@pytest.mark.parametrize(
    "label",
    [
        "marking-definition--00000000-0000-4000-8000-000000000000",  # a private marking
        "purple",
        "yellow",
        "tlpamber",
        "TLP:",
        "amber+",
        "red+strict",
        "green strict",
        "tlp:ambre",
        3,
        ["red"],
    ],
)
def test_unknown_labels(label: object) -> None:
    with pytest.raises(ValueError, match="TLP label"):
        TLP.from_label(label)
    assert TLP.parse(label) is None


def test_every_fixed_marking_id_names_its_label() -> None:
    assert len(TLP_OF_MARKING) == len(TLP1_MARKING_IDS) + len(TLP2_MARKING_IDS) == 9
    assert set(TLP2_MARKING_IDS) == set(TLP)
    for ids in (TLP1_MARKING_IDS, TLP2_MARKING_IDS):
        for tlp, marking_id in ids.items():
            assert TLP.from_label(marking_id) is TLP_OF_MARKING[marking_id] is tlp
