"""``core/frozen_build.py``: the positional builder makes the very object the keyword constructor makes."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.event_codec import EVENT_TYPES, StreamDecoder, decode, encode
from tradingdesk.core.events import OrderEvent, OrderTerms
from tradingdesk.core.frozen_build import positional_builder

TERMS = OrderTerms(
    order_id="O-1",
    client_order_id="c-1",
    account="ACC-EQ-1",
    strategy="manual",
    symbol="AAPL",
    side=Side.BUY,
    order_type=OrderType.LIMIT,
    qty=100,
    price=18950,
    tif=TimeInForce.DAY,
    expire_ns=7,
    created_ns=5,
    replaces_order_id="O-0",
)


def values(obj: object) -> list[object]:
    return [getattr(obj, f.name) for f in fields(obj)]  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [c for c in EVENT_TYPES.values() if issubclass(c, OrderEvent)])
def test_every_order_event_built_positionally_equals_the_keyword_one(cls: type[OrderEvent]) -> None:
    sample = {f.name: f"{f.name}-x" for f in fields(cls)}  # distinct values: a field out of place shows
    sample.update(ts_ns=11, terms=TERMS, status=OrderStatus.NEW)
    keyword = cls(**sample)
    built = positional_builder(cls)(*sample.values())
    assert type(built) is cls and built == keyword and values(built) == values(keyword)
    with pytest.raises(AttributeError):  # still frozen
        built.venue = "elsewhere"  # type: ignore[misc]


def test_terms_keep_every_field_and_pickle_as_before() -> None:
    import pickle

    again = pickle.loads(pickle.dumps(TERMS))
    assert again == TERMS and values(again) == values(TERMS) and again.encoded is None


def test_decoded_events_equal_the_events_encoded() -> None:
    """The codec's decoders build events positionally: each decodes to the event it encoded, field for field."""
    decoder = StreamDecoder(keep_resting=True)
    for cls in (c for c in EVENT_TYPES.values() if issubclass(c, OrderEvent)):
        sample = {f.name: "" for f in fields(cls)}
        sample.update(ts_ns=11, terms=TERMS, status=OrderStatus.PARTIALLY_FILLED, cum_qty=40, cum_notional=758000)
        ints = ("last_qty", "last_price", "fee", "new_qty", "new_price", "reference_ns")
        sample.update({k: 3 if k in ints else "v" for k in sample if k not in ("ts_ns", "terms", "status")})
        sample.update(cum_qty=40, cum_notional=758000, fees=0, text="", replaced_by_order_id="")
        event = cls(**sample)
        payload = encode(event)
        for got in (decode(cls.kind, "O-1", 11, payload), decoder.decode(cls.kind, "O-1", 11, payload)):
            assert values(got) == values(event), cls.__name__


def test_a_class_it_cannot_stand_in_for_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x > 0

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    for cls in (Checked, NoSlots):
        with pytest.raises(TypeError):
            positional_builder(cls)
