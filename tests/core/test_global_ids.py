"""Global IDs: plain "Type:pk" for most types; keyed for sealed types, whose row numbers would say how
many rows came before (SPEC §4.2: nobody may learn even how many bids exist).

The keyed IDs are checked as a caller sees them: the text inside the base64, its length, how the IDs
of consecutive rows compare, and what a made-up ID decodes to.
"""

from __future__ import annotations

import base64
import itertools
import string

import pytest
from strawberry import relay

import app
from core import api
from core.api import NO_ROW, SealedNode, decode_id, encode_id
from core.errors import DomainError, ErrorCode
from core.settings import Settings

ROWS = range(1, 301)
URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def _raw(global_id: str) -> str:
    type_name, raw = relay.from_base64(global_id)
    assert type_name == "Bid"
    return raw


def _block(global_id: str) -> int:
    """The 128 bits inside a keyed ID, as a number."""
    return int.from_bytes(base64.urlsafe_b64decode(_raw(global_id) + "=="), "big")


def _decode(global_id: str) -> int:
    return decode_id(global_id, "Bid", field=["id"])


def _ranks(values: list[int]) -> list[int]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0] * len(values)
    for rank, index in enumerate(order):
        ranks[index] = rank
    return ranks


def _spearman(a: list[int], b: list[int]) -> float:
    n = len(a)
    squares = sum((x - y) ** 2 for x, y in zip(_ranks(a), _ranks(b), strict=True))
    return 1 - 6 * squares / (n * (n * n - 1))


def test_a_bid_id_is_not_its_row_number_and_round_trips():
    ids = [encode_id("Bid", pk) for pk in ROWS]

    for pk, global_id in zip(ROWS, ids, strict=True):
        raw = _raw(global_id)
        assert not raw.isdigit() and raw != str(pk)
        assert set(raw) <= URL_SAFE
        assert _decode(global_id) == pk
    assert len(set(ids)) == len(ids)


def test_every_bid_id_has_the_same_length_whatever_the_row_number():
    lengths = {len(encode_id("Bid", pk)) for pk in [*ROWS, 10**6, 10**12, 2**63 - 1]}

    assert len(lengths) == 1


def test_ids_of_consecutive_bids_share_nothing():
    # One bid more or fewer before a bid moves its row number by one: the IDs of neighbouring rows
    # must look unrelated, and the order of the IDs must not follow the order of the rows.
    blocks = [_block(encode_id("Bid", pk)) for pk in ROWS]

    distances = [(a ^ b).bit_count() for a, b in itertools.pairwise(blocks)]
    assert all(24 <= d <= 104 for d in distances), (min(distances), max(distances))
    assert 60 <= sum(distances) / len(distances) <= 68
    assert abs(_spearman(list(ROWS), blocks)) < 0.25
    texts = [encode_id("Bid", pk) for pk in ROWS]
    assert abs(_spearman(list(ROWS), _ranks(texts))) < 0.25  # as strings, as a client sorts them


def test_bid_ids_are_keyed_by_the_secret_key(monkeypatch):
    ours = {pk: encode_id("Bid", pk) for pk in ROWS}
    other = Settings(secret_key="another-installation-secret-key-0123456789")
    monkeypatch.setattr(api, "get_settings", lambda: other)

    theirs = {pk: encode_id("Bid", pk) for pk in ROWS}

    assert all(theirs[pk] != ours[pk] for pk in ROWS)
    assert [_decode(theirs[pk]) for pk in ROWS] == list(ROWS)
    monkeypatch.undo()
    # Another installation's IDs are nothing here (and ours nothing there).
    assert {_decode(theirs[pk]) for pk in ROWS} == {NO_ROW}


def _non_canonical(global_id: str) -> str:
    """The same 16 bytes spelt differently: the last character's unused bits set."""
    raw = _raw(global_id)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(raw[-1])
    return relay.to_base64("Bid", raw[:-1] + alphabet[last ^ 0b0011])


def _flipped(global_id: str) -> str:
    block = bytearray(base64.urlsafe_b64decode(_raw(global_id) + "=="))
    block[0] ^= 1
    return relay.to_base64("Bid", base64.urlsafe_b64encode(bytes(block)).rstrip(b"=").decode())


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda real: relay.to_base64("Bid", "7"), id="row-number"),
        pytest.param(lambda real: relay.to_base64("Bid", "0"), id="zero"),
        pytest.param(lambda real: relay.to_base64("Bid", "-7"), id="negative"),
        pytest.param(lambda real: relay.to_base64("Bid", "abc"), id="word"),
        pytest.param(lambda real: relay.to_base64("Bid", ""), id="empty"),
        pytest.param(lambda real: relay.to_base64("Bid", "A" * 22), id="zeros"),
        pytest.param(lambda real: relay.to_base64("Bid", "A" * 21), id="short"),
        pytest.param(lambda real: relay.to_base64("Bid", _raw(real) + "A"), id="long"),
        pytest.param(lambda real: relay.to_base64("Bid", _raw(real) + "=="), id="padded"),
        pytest.param(lambda real: relay.to_base64("Bid", "是" * 22), id="not-ascii"),
        pytest.param(_flipped, id="one-bit-flipped"),
        pytest.param(_non_canonical, id="non-canonical"),
    ],
)
def test_a_forged_bid_id_decodes_to_no_row(forge):
    # A made-up ID of the right type is not refused as malformed: it reads like a bid that is not
    # there, so the service answers as it does for any bid the caller may not see.
    forged = forge(encode_id("Bid", 7))

    assert _decode(forged) == NO_ROW


def test_an_id_that_is_not_base64_or_of_another_type_is_refused():
    with pytest.raises(DomainError) as malformed:
        _decode("not an id")
    assert malformed.value.problems[0].code == ErrorCode.INVALID
    with pytest.raises(DomainError) as other_type:
        _decode(encode_id("Tender", 7))
    assert other_type.value.problems[0].code == ErrorCode.NOT_FOUND


def test_types_not_sealed_keep_their_plain_ids():
    assert encode_id("Tender", 8) == "VGVuZGVyOjg=" == relay.to_base64("Tender", 8)
    assert decode_id("VGVuZGVyOjg=", "Tender", field=["id"]) == 8


def test_every_sealed_type_is_named_in_the_schema_as_its_class():
    sealed = {}
    for name, concrete in app.schema.schema_converter.type_map.items():
        origin = getattr(concrete.definition, "origin", None)
        if isinstance(origin, type) and issubclass(origin, SealedNode):
            sealed[name] = origin

    assert "Bid" in sealed
    assert all(origin.__name__ == name and api.is_sealed(name) for name, origin in sealed.items())
