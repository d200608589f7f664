"""Decider specifications, after Emmett: `given(events).when(command).then(events)`.

user_spec = DeciderSpec(user.decide, user.fold)
user_spec.given(UserRegistered(...)).when(DeleteUser()).then(UserDeleted())
user_spec.given().when(DeleteUser()).then_raises(NotFound)
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import pytest

from domain.errors import DomainError
from domain.events import DomainEvent

Command = TypeVar("Command")
State = TypeVar("State")


@dataclass(frozen=True)
class DeciderSpec(Generic[Command, State]):
    decide: Callable[[Command, State], list[DomainEvent]]
    fold: Callable[[Sequence[DomainEvent]], State]

    def given(self, *history: DomainEvent) -> "Given[Command, State]":
        return Given(self, history)


@dataclass(frozen=True)
class Given(Generic[Command, State]):
    spec: DeciderSpec[Command, State]
    history: tuple[DomainEvent, ...]

    def when(self, command: Command) -> "When[Command, State]":
        return When(self.spec, self.history, command)


@dataclass(frozen=True)
class When(Generic[Command, State]):
    spec: DeciderSpec[Command, State]
    history: tuple[DomainEvent, ...]
    command: Command

    def then(self, *expected: DomainEvent) -> None:
        """The command decides exactly these events (none: `.then()`), in this order."""
        decided = self.spec.decide(self.command, self.spec.fold(self.history))
        # Not a test module, so pytest does not rewrite these asserts: say what differed.
        assert decided == list(expected), f"decided {decided!r}, expected {list(expected)!r}"
        # What a decider emits must be something its own evolve accepts: a stream that
        # could be written but not loaded again would be a stream lost.
        self.spec.fold([*self.history, *decided])

    def then_raises(self, error: type[DomainError], match: str | None = None) -> DomainError:
        """The command is refused with exactly this error type (not merely a subclass)."""
        state = self.spec.fold(self.history)
        with pytest.raises(error, match=match) as raised:
            self.spec.decide(self.command, state)
        assert type(raised.value) is error, f"raised {raised.value!r}, expected {error.__name__}"
        return raised.value
