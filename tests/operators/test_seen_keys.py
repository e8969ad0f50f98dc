"""The compact de-duplication set of validate."""

from __future__ import annotations

from threatstream.operators.validate import SeenKeys, _id_key


def test_seen_keys_is_an_exact_set_that_grows() -> None:
    seen = SeenKeys(capacity=4, small_keys=0)
    keys = [_id_key(f"otx:IPv4:{i}") for i in range(5000)]
    assert all(seen.add(key) for key in keys)
    assert not any(seen.add(key) for key in keys)
    assert len(seen) == 5000
    colliding = [1, 1 + 4, 1 + 8, 1 + (1 << 40)]  # same low bits: linear probing keeps them apart
    fresh = SeenKeys(capacity=16, small_keys=0)
    assert [fresh.add(key) for key in colliding + colliding] == [True] * 4 + [False] * 4


def test_keys_move_from_the_set_to_the_array_without_losing_one() -> None:
    seen = SeenKeys(capacity=4, small_keys=100)
    keys = [_id_key(f"urlhaus:URL:{i}") for i in range(3000)]
    assert all(seen.add(key) for key in keys[:100])
    assert seen._small is not None  # still the set
    assert all(seen.add(key) for key in keys[100:])
    assert seen._small is None  # now the array
    assert not any(seen.add(key) for key in keys)
    assert len(seen) == 3000
