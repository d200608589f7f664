"""Random command sequences against the deciders, composed as the command API composes them.

Each example is a history of up to `stateful_step_count` commands (register, change, delete a
user; place, change, cancel an order; each also aimed at unknown ids, at the other aggregate's
ids, and with invalid fields). After every step:

- the command was refused exactly when the model says so (404 unknown, 410 deleted or
  cancelled, 409 already there), and a refused command appended nothing;
- folding each stored stream (through the JSON the events table holds) gives the state that
  its decider saw with its decided events applied;
- versions run 1, 2, 3 ... in every stream;
- no deleted user has an open order (the delete cascade), and every order is on its user's
  stream;
- money has two places, and no total is negative.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pydantic import BaseModel, ValidationError

from domain import order, user
from domain.errors import DomainError, Gone, NotFound, RuleViolation
from domain.events import DomainEvent
from domain.order import OrderStatus
from tests.property import handlers
from tests.property.inputs import emails, money, optional, quantities, texts
from tests.property.memory_store import MemoryStore

Command = TypeVar("Command", bound=BaseModel)
# Version-4 ids: never one of the machine's own, which it numbers from 1 with version bits 0.
unknown_ids = st.uuids(version=4)


@dataclass
class ExpectedUser:
    name: str
    email: str
    deleted: bool = False
    order_ids: list[UUID] = field(default_factory=list)


@dataclass
class ExpectedOrder:
    user_id: UUID
    product: str
    quantity: int
    unit_price: Decimal
    status: OrderStatus = OrderStatus.OPEN


def _build(command: type[Command], **fields: object) -> Command | None:
    """The command, or None where the API would answer 422. Fields given as None are left out."""
    try:
        return command.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError:
        event("refused: invalid input")
        return None


def _two_places(amount: Decimal) -> bool:
    return amount.is_finite() and amount.as_tuple().exponent == -2 and not amount.is_signed()


class CommandSequences(RuleBasedStateMachine):
    users = Bundle("users")  # live ones: deleting one moves it to `deleted_users`
    deleted_users = Bundle("deleted_users")
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.expected_users: dict[UUID, ExpectedUser] = {}
        self.expected_orders: dict[UUID, ExpectedOrder] = {}
        self._last_id = 0
        self._folded_at = -1
        self._folded_streams: dict[UUID, user.User | order.Order | None] = {}

    def _new_id(self) -> UUID:
        self._last_id += 1
        return UUID(int=self._last_id)

    def _run(
        self, refusal: type[DomainError] | None, handle: Callable[[], list[DomainEvent]]
    ) -> list[DomainEvent] | None:
        """The events the command appended, or None when it was refused as `refusal` says."""
        before = self.store.event_count()
        refused: DomainError | None = None
        try:
            decided = handle()
        except DomainError as error:
            refused = error
        if refused is not None:
            assert type(refused) is refusal, f"refused with {refused!r}, expected {refusal}"
            assert self.store.event_count() == before, "a refused command appended events"
            event(f"refused: {type(refused).__name__}")
            return None
        assert refusal is None, f"decided {decided!r}, expected a {refusal.__name__}"
        assert self.store.event_count() == before + len(decided)
        event("accepted" if decided else "accepted: no change")
        return decided

    def _user_refusal(self, user_id: UUID) -> type[DomainError] | None:
        expected = self.expected_users.get(user_id)
        if expected is None:
            return NotFound
        return Gone if expected.deleted else None

    def _order_refusal(self, order_id: UUID) -> type[DomainError] | None:
        expected = self.expected_orders.get(order_id)
        if expected is None:
            return NotFound
        return Gone if expected.status is OrderStatus.CANCELLED else None

    # Users

    @rule(target=users, name=texts, email=emails)
    def register_user(self, name: object, email: object) -> Any:
        command = _build(user.RegisterUser, name=name, email=email)
        if command is None:
            return multiple()
        user_id = self._new_id()
        self._run(None, lambda: handlers.register_user(self.store, user_id, command))
        self.expected_users[user_id] = ExpectedUser(command.name, command.email)
        return user_id

    @rule(user_id=st.one_of(users, deleted_users))
    def register_user_again(self, user_id: UUID) -> None:
        # The API draws a fresh id for each registration; the decider must refuse one anyway.
        seen = self.store.load(user_id, user.STREAM_TYPE, user.fold).state
        command = user.RegisterUser(name="Ann", email="ann@example.com")
        self._run(RuleViolation, lambda: user.decide(command, seen))

    @rule(
        user_id=users,
        name=optional(texts),
        email=optional(emails),
    )
    def change_user(self, user_id: UUID, name: object, email: object) -> None:
        command = _build(user.ChangeUser, name=name, email=email)
        if command is None:
            return
        refusal = self._user_refusal(user_id)
        decided = self._run(refusal, lambda: handlers.change_user(self.store, user_id, command))
        if decided is None:
            return
        expected = self.expected_users[user_id]
        name_after = expected.name if command.name is None else command.name
        email_after = expected.email if command.email is None else command.email
        changes = (name_after != expected.name) + (email_after != expected.email)
        assert len(decided) == changes, f"{decided!r} for {command!r} on {expected!r}"
        expected.name, expected.email = name_after, email_after
        # Sent again (a client retrying without an Idempotency-Key), it changes nothing.
        assert handlers.change_user(self.store, user_id, command) == []

    @rule(target=deleted_users, user_id=consumes(users))
    def delete_user(self, user_id: UUID) -> Any:
        refusal = self._user_refusal(user_id)
        decided = self._run(refusal, lambda: handlers.delete_user(self.store, user_id))
        if decided is None:
            return multiple()
        expected = self.expected_users[user_id]
        still_open = [
            self.expected_orders[order_id]
            for order_id in expected.order_ids
            if self.expected_orders[order_id].status is OrderStatus.OPEN
        ]
        assert len(decided) == 1 + len(still_open), decided
        expected.deleted = True
        for cancelled in still_open:
            cancelled.status = OrderStatus.CANCELLED
        return user_id

    @rule(user_id=deleted_users, data=st.data())
    def command_deleted_user(self, user_id: UUID, data: st.DataObject) -> None:
        """410 for every command, and no order for a deleted user above all."""
        command = data.draw(st.sampled_from(["change", "delete", "place an order"]))
        if command == "change":
            self.change_user(user_id, "Ann", None)
        elif command == "delete":
            self.delete_user(user_id)
        else:
            self.place_order(user_id, "Tea", 1, "1.00")

    # Orders

    @rule(
        target=orders,
        user_id=users,
        product=texts,
        quantity=quantities,
        unit_price=money,
    )
    def place_order(
        self, user_id: UUID, product: object, quantity: object, unit_price: object
    ) -> Any:
        command = _build(
            order.PlaceOrder,
            user_id=user_id,
            product=product,
            quantity=quantity,
            unit_price=unit_price,
        )
        if command is None:
            return multiple()
        order_id = self._new_id()
        refusal = self._user_refusal(user_id)
        placing = lambda: handlers.place_order(self.store, user_id, order_id, command)  # noqa: E731
        if self._run(refusal, placing) is None:
            return multiple()
        self.expected_orders[order_id] = ExpectedOrder(
            user_id, command.product, command.quantity, command.unit_price
        )
        self.expected_users[user_id].order_ids.append(order_id)
        return order_id

    @rule(order_id=orders)
    def place_order_again(self, order_id: UUID) -> None:
        seen = self.store.load(order_id, order.STREAM_TYPE, order.fold).state
        command = order.PlaceOrder(
            user_id=order_id, product="Tea", quantity=1, unit_price=Decimal("1.00")
        )
        self._run(RuleViolation, lambda: order.decide(command, seen))

    @rule(
        order_id=orders,
        product=optional(texts),
        quantity=optional(quantities),
        unit_price=optional(money),
    )
    def change_order(
        self, order_id: UUID, product: object, quantity: object, unit_price: object
    ) -> None:
        command = _build(
            order.ChangeOrder, product=product, quantity=quantity, unit_price=unit_price
        )
        if command is None:
            return
        refusal = self._order_refusal(order_id)
        decided = self._run(refusal, lambda: handlers.change_order(self.store, order_id, command))
        if decided is None:
            return
        expected = self.expected_orders[order_id]
        after = (
            expected.product if command.product is None else command.product,
            expected.quantity if command.quantity is None else command.quantity,
            expected.unit_price if command.unit_price is None else command.unit_price,
        )
        changed = after != (expected.product, expected.quantity, expected.unit_price)
        assert len(decided) == changed, f"{decided!r} for {command!r} on {expected!r}"
        expected.product, expected.quantity, expected.unit_price = after
        assert handlers.change_order(self.store, order_id, command) == []

    @rule(order_id=orders)
    def cancel_order(self, order_id: UUID) -> None:
        refusal = self._order_refusal(order_id)
        command = order.CancelOrder()
        decided = self._run(refusal, lambda: handlers.change_order(self.store, order_id, command))
        if decided is not None:
            assert len(decided) == 1, decided
            self.expected_orders[order_id].status = OrderStatus.CANCELLED

    # Commands aimed at ids that are no stream of their kind: 404, whatever else they carry.

    # Only once an order was placed: from the first step on, these would crowd out the rest.
    @precondition(lambda self: bool(self.expected_orders))
    @rule(stream_id=st.one_of(orders, unknown_ids), data=st.data())
    def command_no_user(self, stream_id: UUID, data: st.DataObject) -> None:
        """An order's id or an unknown one, where a user's is expected."""
        assert stream_id not in self.expected_users
        command = data.draw(st.sampled_from(["change", "delete", "place an order"]))
        if command == "change":
            self.change_user(stream_id, "Ann", None)
        elif command == "delete":
            self.delete_user(stream_id)
        else:
            self.place_order(stream_id, "Tea", 1, "1.00")

    @precondition(lambda self: bool(self.expected_orders))
    @rule(stream_id=st.one_of(users, deleted_users, unknown_ids), data=st.data())
    def command_no_order(self, stream_id: UUID, data: st.DataObject) -> None:
        """A user's id or an unknown one, where an order's is expected."""
        assert stream_id not in self.expected_orders
        if data.draw(st.booleans()):
            self.change_order(stream_id, "Tea", None, None)
        else:
            self.cancel_order(stream_id)

    # Invariants, checked after every step

    def _folded(self) -> dict[UUID, user.User | order.Order | None]:
        """Every stream folded from the store, once per step (streams only ever grow)."""
        count = self.store.event_count()
        if self._folded_at != count:
            self._folded_streams = {}
            for stream_id, rows in self.store.rows.items():
                fold = user.fold if rows[0].stream_type == user.STREAM_TYPE else order.fold
                loaded = self.store.load(stream_id, rows[0].stream_type, fold)
                assert loaded.version == len(rows)
                self._folded_streams[stream_id] = loaded.state
            self._folded_at = count
        return self._folded_streams

    def _folded_users(self) -> dict[UUID, user.User]:
        folded = self._folded()
        users = {user_id: folded[user_id] for user_id in self.expected_users}
        assert all(isinstance(state, user.User) for state in users.values())
        return users  # type: ignore[return-value]

    def _folded_orders(self) -> dict[UUID, order.Order]:
        folded = self._folded()
        orders = {order_id: folded[order_id] for order_id in self.expected_orders}
        assert all(isinstance(state, order.Order) for state in orders.values())
        return orders  # type: ignore[return-value]

    @invariant()
    def every_stream_folds_to_the_state_its_decider_saw(self) -> None:
        for stream_id, state in self._folded().items():
            assert state == self.store.decided[stream_id], stream_id

    @invariant()
    def versions_are_contiguous(self) -> None:
        for rows in self.store.rows.values():
            assert [row.version for row in rows] == list(range(1, len(rows) + 1))

    @invariant()
    def streams_hold_what_the_model_expects(self) -> None:
        for user_id, state in self._folded_users().items():
            expected = self.expected_users[user_id]
            assert (state.name, state.email, state.deleted, list(state.order_ids)) == (
                expected.name,
                expected.email,
                expected.deleted,
                expected.order_ids,
            )
        for order_id, placed in self._folded_orders().items():
            expected_order = self.expected_orders[order_id]
            assert (
                placed.user_id,
                placed.product,
                placed.quantity,
                placed.unit_price,
                placed.status,
            ) == (
                expected_order.user_id,
                expected_order.product,
                expected_order.quantity,
                expected_order.unit_price,
                expected_order.status,
            )

    @invariant()
    def no_deleted_user_has_an_open_order(self) -> None:
        users = self._folded_users()
        for order_id, placed in self._folded_orders().items():
            owner = users[placed.user_id]
            assert order_id in owner.order_ids, f"{order_id} is not on its user's stream"
            if owner.deleted:
                assert placed.status is OrderStatus.CANCELLED, f"{order_id} open, user deleted"

    @invariant()
    def money_has_two_places_and_no_total_is_negative(self) -> None:
        orders = self._folded_orders()
        for placed in orders.values():
            assert _two_places(placed.unit_price), placed.unit_price
            assert _two_places(placed.total), placed.total
        for user_id in self.expected_users:
            spent = sum(
                (o.total for o in orders.values() if o.user_id == user_id and o.status == "open"),
                Decimal("0.00"),
            )
            assert _two_places(spent), spent


def test_random_command_sequences_keep_the_invariants(property_settings: settings) -> None:
    run_state_machine_as_test(CommandSequences, settings=property_settings)
