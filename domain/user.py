"""The User aggregate: register, change name and/or email, delete.

A user's stream also records each order placed for them (`UserOrderPlaced`). That is what
makes "no order for a deleted user" hold under concurrency: placing an order and deleting
the user both write the user's stream with an expected version, so one of them loses
(guarantee 3) instead of an order slipping past a delete.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.errors import Gone, NotFound, RuleViolation
from domain.events import DomainEvent
from domain.values import Email, Name

STREAM_TYPE = "user"


# An event's email is the one its command accepted, not checked again: the check is
# email-validator's, whose rules change between versions, and an event recorded under older
# rules must still load (else it would stop the projector as a poison event).
StoredEmail = str


class UserRegistered(DomainEvent):
    name: Name
    email: StoredEmail


class UserNameChanged(DomainEvent):
    name: Name


class UserEmailChanged(DomainEvent):
    email: StoredEmail


class UserOrderPlaced(DomainEvent):
    order_id: UUID


class UserDeleted(DomainEvent):
    pass


UserEvent = UserRegistered | UserNameChanged | UserEmailChanged | UserOrderPlaced | UserDeleted


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegisterUser(_Command):
    name: Name
    email: Email


class ChangeUser(_Command):
    """PUT gives both fields, PATCH one or both; an unchanged value produces no event."""

    name: Name | None = None
    email: Email | None = None


class AddOrder(_Command):
    order_id: UUID


class DeleteUser(_Command):
    pass


UserCommand = RegisterUser | ChangeUser | AddOrder | DeleteUser


@dataclass(frozen=True)
class User:
    name: str
    email: str
    deleted: bool = False
    order_ids: tuple[UUID, ...] = field(default=())


def evolve(state: User | None, event: DomainEvent) -> User | None:
    match event:
        case UserRegistered(name=name, email=email) if state is None:
            return User(name=name, email=email)
        case UserNameChanged(name=name) if state is not None:
            return replace(state, name=name)
        case UserEmailChanged(email=email) if state is not None:
            return replace(state, email=email)
        case UserOrderPlaced(order_id=order_id) if state is not None:
            return replace(state, order_ids=(*state.order_ids, order_id))
        case UserDeleted() if state is not None:
            return replace(state, deleted=True)
    raise ValueError(f"{event.event_type} cannot follow state {state!r}")


def fold(events: Sequence[DomainEvent]) -> User | None:
    state: User | None = None
    for event in events:
        state = evolve(state, event)
    return state


def decide(command: UserCommand, state: User | None) -> list[DomainEvent]:
    if isinstance(command, RegisterUser):
        if state is not None:
            raise RuleViolation("the user is already registered")
        return [UserRegistered(name=command.name, email=command.email)]
    live = _require_live(state)
    match command:
        case ChangeUser(name=name, email=email):
            changes: list[DomainEvent] = []
            if name is not None and name != live.name:
                changes.append(UserNameChanged(name=name))
            if email is not None and email != live.email:
                changes.append(UserEmailChanged(email=email))
            return changes
        case AddOrder(order_id=order_id):
            return attach_order(order_id, registered=True, deleted=False)
        case DeleteUser():
            return [UserDeleted()]
    raise TypeError(f"unknown command {command!r}")


def attach_order(order_id: UUID, *, registered: bool, deleted: bool) -> list[DomainEvent]:
    """`AddOrder`, decided from all it needs: whether the user is registered and deleted.

    For callers that know this without folding the user's stream, which grows with every
    order: the event store keeps both in the stream's head."""
    _check_live(registered, deleted)
    return [UserOrderPlaced(order_id=order_id)]


def _require_live(state: User | None) -> User:
    _check_live(state is not None, state is not None and state.deleted)
    assert state is not None
    return state


def _check_live(registered: bool, deleted: bool) -> None:
    if not registered:
        raise NotFound("no such user")
    if deleted:
        raise Gone("the user was deleted")
