import json
from decimal import Decimal
from uuid import UUID

import pytest
from pydantic import JsonValue, ValidationError

from domain import order
from domain.errors import Gone, NotFound, RuleViolation
from domain.events import DomainEvent, UnknownEventType
from domain.order import (
    CancellationReason,
    CancelOrder,
    ChangeOrder,
    Order,
    OrderCancelled,
    OrderChanged,
    OrderPlaced,
    OrderStatus,
    PlaceOrder,
)
from tests.unit.spec import DeciderSpec

order_spec = DeciderSpec(order.decide, order.fold)

USER_ID = UUID("00000000-0000-4000-8000-000000000001")
PLACED = OrderPlaced(user_id=USER_ID, product="Tea", quantity=2, unit_price=Decimal("3.50"))
CANCELLED = OrderCancelled(reason=CancellationReason.BY_CLIENT)
VALID_ORDER: dict[str, object] = {
    "user_id": str(USER_ID),
    "product": "Tea",
    "quantity": 2,
    "unit_price": "3.50",
}


def place(**overrides: object) -> PlaceOrder:
    return PlaceOrder.model_validate({**VALID_ORDER, **overrides})


# Placing


def test_placing_an_order_records_it() -> None:
    order_spec.given().when(
        PlaceOrder(user_id=USER_ID, product="Tea", quantity=2, unit_price=Decimal("3.50"))
    ).then(PLACED)


def test_an_order_cannot_be_placed_twice() -> None:
    order_spec.given(PLACED).when(place()).then_raises(RuleViolation)


def test_a_cancelled_order_cannot_be_placed_again() -> None:
    order_spec.given(PLACED, CANCELLED).when(place()).then_raises(RuleViolation)


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        (Decimal("3.5"), "3.50"),
        (Decimal("3"), "3.00"),
        (Decimal("3.500"), "3.50"),
        (Decimal("1E+2"), "100.00"),
        ("0.1", "0.10"),
        ("0", "0.00"),
        ("9999999999.99", "9999999999.99"),
    ],
)
def test_unit_price_is_normalised_to_two_places(given: object, normalised: str) -> None:
    # Decimal("3.5") == Decimal("3.50"), so compare the text: the places are the point.
    command = place(unit_price=given)
    assert str(command.unit_price) == normalised
    [placed] = order.decide(command, None)
    assert placed.to_data()["unit_price"] == normalised


@pytest.mark.parametrize(
    "unit_price",
    [
        pytest.param(Decimal("3.501"), id="three places"),
        pytest.param("0.001", id="a tenth of a cent"),
        pytest.param(Decimal("-0.01"), id="negative"),
        pytest.param("NaN", id="not a number"),
        pytest.param("Infinity", id="infinite"),
        pytest.param("10000000000.00", id="eleven whole digits"),
        pytest.param("three", id="not numeric"),
        pytest.param(None, id="null"),
    ],
)
def test_an_invalid_unit_price_is_refused(unit_price: object) -> None:
    with pytest.raises(ValidationError, match="unit_price"):
        place(unit_price=unit_price)


@pytest.mark.parametrize("quantity", [1, 1_000_000])
def test_quantity_within_bounds_is_accepted(quantity: int) -> None:
    assert place(quantity=quantity).quantity == quantity


@pytest.mark.parametrize(
    "quantity",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(1_000_001, id="over a million"),
        pytest.param("2", id="a string"),
        pytest.param(2.0, id="a float"),
        pytest.param(True, id="a bool"),
    ],
)
def test_quantity_must_be_a_positive_integer(quantity: object) -> None:
    with pytest.raises(ValidationError, match="quantity"):
        place(quantity=quantity)


def test_product_names_are_stripped() -> None:
    assert place(product="  Green tea \n").product == "Green tea"
    assert ChangeOrder(product=" Coffee ").product == "Coffee"


def test_a_product_name_of_200_characters_after_stripping_is_accepted() -> None:
    assert place(product=f" {'p' * 200} ").product == "p" * 200


@pytest.mark.parametrize(
    "product",
    [
        pytest.param("", id="empty"),
        pytest.param(" \t ", id="blank"),
        pytest.param("p" * 201, id="too long"),
        pytest.param(7, id="not a string"),
    ],
)
def test_an_invalid_product_is_refused(product: object) -> None:
    with pytest.raises(ValidationError, match="product"):
        place(product=product)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({**VALID_ORDER, "user_id": "nope"}, id="user id not a uuid"),
        pytest.param({**VALID_ORDER, "status": "open"}, id="extra field"),
        pytest.param({"product": "Tea", "quantity": 2, "unit_price": "1"}, id="user id missing"),
    ],
)
def test_an_invalid_order_is_refused_at_construction(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PlaceOrder.model_validate(payload)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"quantity": 0}, id="zero quantity"),
        pytest.param({"unit_price": "1.234"}, id="three places"),
        pytest.param({"product": ""}, id="empty product"),
        pytest.param({"user_id": str(USER_ID)}, id="user cannot change"),
    ],
)
def test_an_invalid_change_is_refused_at_construction(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ChangeOrder.model_validate(payload)


def test_an_unknown_cancellation_reason_is_refused() -> None:
    with pytest.raises(ValidationError):
        CancelOrder.model_validate({"reason": "changed my mind"})


# Changing


def test_changing_an_order_records_every_value_after_the_change() -> None:
    order_spec.given(PLACED).when(ChangeOrder(quantity=5)).then(
        OrderChanged(product="Tea", quantity=5, unit_price=Decimal("3.50"))
    )


def test_changing_every_value_records_them_all() -> None:
    order_spec.given(PLACED).when(
        ChangeOrder(product="Coffee", quantity=1, unit_price=Decimal("4"))
    ).then(OrderChanged(product="Coffee", quantity=1, unit_price=Decimal("4.00")))


def test_a_change_builds_on_the_previous_change() -> None:
    order_spec.given(
        PLACED, OrderChanged(product="Coffee", quantity=2, unit_price=Decimal("3.50"))
    ).when(ChangeOrder(quantity=3)).then(
        OrderChanged(product="Coffee", quantity=3, unit_price=Decimal("3.50"))
    )


def test_unchanged_values_produce_no_event() -> None:
    order_spec.given(PLACED).when(
        ChangeOrder(product="Tea", quantity=2, unit_price=Decimal("3.50"))
    ).then()


def test_an_empty_change_produces_no_event() -> None:
    order_spec.given(PLACED).when(ChangeOrder()).then()


def test_a_price_equal_after_normalisation_is_unchanged() -> None:
    order_spec.given(PLACED).when(ChangeOrder(unit_price=Decimal("3.5"))).then()


def test_a_product_differing_only_in_surrounding_whitespace_is_unchanged() -> None:
    order_spec.given(PLACED).when(ChangeOrder(product=" Tea ")).then()


def test_cannot_change_an_unknown_order() -> None:
    order_spec.given().when(ChangeOrder(quantity=1)).then_raises(NotFound)


def test_cancelled_order_cannot_change() -> None:
    order_spec.given(PLACED, CANCELLED).when(ChangeOrder(quantity=5)).then_raises(Gone)


def test_a_cancelled_order_refuses_even_an_empty_change() -> None:
    order_spec.given(PLACED, CANCELLED).when(ChangeOrder()).then_raises(Gone)


# Cancelling


def test_cancelling_an_open_order_records_that_the_client_cancelled_it() -> None:
    order_spec.given(PLACED).when(CancelOrder()).then(
        OrderCancelled(reason=CancellationReason.BY_CLIENT)
    )


def test_cancelling_for_a_deleted_user_records_that_reason() -> None:
    order_spec.given(PLACED).when(CancelOrder(reason=CancellationReason.USER_DELETED)).then(
        OrderCancelled(reason=CancellationReason.USER_DELETED)
    )


def test_a_changed_order_can_still_be_cancelled() -> None:
    order_spec.given(
        PLACED, OrderChanged(product="Tea", quantity=9, unit_price=Decimal("3.50"))
    ).when(CancelOrder()).then(CANCELLED)


def test_a_cancelled_order_cannot_be_cancelled_again() -> None:
    order_spec.given(PLACED, CANCELLED).when(CancelOrder()).then_raises(Gone)


def test_cannot_cancel_an_unknown_order() -> None:
    order_spec.given().when(CancelOrder()).then_raises(NotFound)


# Loading


def test_loading_a_stream_gives_the_latest_values_and_status() -> None:
    changed = OrderChanged(product="Coffee", quantity=3, unit_price=Decimal("1.25"))
    assert order.fold([PLACED]) == Order(
        user_id=USER_ID, product="Tea", quantity=2, unit_price=Decimal("3.50")
    )
    assert order.fold([PLACED, changed, CANCELLED]) == Order(
        user_id=USER_ID,
        product="Coffee",
        quantity=3,
        unit_price=Decimal("1.25"),
        status=OrderStatus.CANCELLED,
    )


def test_an_order_total_is_quantity_times_unit_price() -> None:
    loaded = order.fold([PLACED])
    assert loaded is not None
    assert loaded.total == Decimal("7.00")
    assert str(loaded.total) == "7.00"


def test_an_empty_stream_loads_as_no_order() -> None:
    assert order.fold([]) is None


@pytest.mark.parametrize(
    "event",
    [OrderChanged(product="Tea", quantity=1, unit_price=Decimal("1")), CANCELLED],
    ids=lambda event: type(event).__name__,
)
def test_no_event_can_precede_placing(event: DomainEvent) -> None:
    with pytest.raises(ValueError, match="cannot follow"):
        order.fold([event])


# Stored form


@pytest.mark.parametrize(
    "event",
    [
        PLACED,
        OrderChanged(product="Coffee", quantity=3, unit_price=Decimal("0.10")),
        OrderCancelled(reason=CancellationReason.BY_CLIENT),
        OrderCancelled(reason=CancellationReason.USER_DELETED),
    ],
    ids=lambda event: type(event).__name__,
)
def test_events_round_trip_through_their_stored_json(event: DomainEvent) -> None:
    stored: dict[str, JsonValue] = json.loads(json.dumps(event.to_data()))
    restored = DomainEvent.from_data(event.event_type, event.schema_version, stored)
    assert type(restored) is type(event)
    assert restored == event
    assert restored.to_data() == stored


def test_money_is_stored_as_a_two_place_string_never_a_float() -> None:
    assert PLACED.to_data() == {
        "user_id": str(USER_ID),
        "product": "Tea",
        "quantity": 2,
        "unit_price": "3.50",
    }
    assert OrderCancelled(reason=CancellationReason.USER_DELETED).to_data() == {
        "reason": "user_deleted"
    }


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(UnknownEventType, match="OrderPlaced v2"):
        DomainEvent.from_data("OrderPlaced", 2, PLACED.to_data())


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        DomainEvent.from_data("OrderShipped", 1, {})


def test_a_stored_price_with_three_places_is_refused() -> None:
    with pytest.raises(ValidationError):
        DomainEvent.from_data("OrderPlaced", 1, {**PLACED.to_data(), "unit_price": "3.505"})


@pytest.mark.parametrize("price", ["-0.00", "-0", -0.0])
def test_negative_zero_price_is_stored_as_zero(price: object) -> None:
    placed = order.decide(place(unit_price=price), None)[0]
    assert placed.to_data()["unit_price"] == "0.00"


def test_a_second_placement_in_a_stream_is_refused_when_folding() -> None:
    with pytest.raises(ValueError, match="cannot follow"):
        order.fold([PLACED, PLACED])
