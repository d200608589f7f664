"""A place in the global feed, in subscriber order (guarantee 1)."""

from dataclasses import dataclass
from functools import total_ordering
from typing import Self


class InvalidPosition(ValueError):
    pass


# The tokens `Position.parse` reads, for API documents: two numbers below 2**63, without
# leading zeros.
TOKEN_PATTERN = r"^(0|[1-9][0-9]{0,18})-(0|[1-9][0-9]{0,18})$"


@total_ordering
@dataclass(frozen=True)
class Position:
    """Events are read ordered by the writing transaction's id, then by position.

    Positions are drawn from a sequence when a row is inserted, but transactions commit in
    another order, so a reader ordered by position alone would pass over rows that commit
    later with smaller positions. Ordered by `(transaction_id, position)` and limited to
    transactions older than every running one, the feed only ever grows at its end.
    """

    transaction_id: int
    position: int

    def __str__(self) -> str:
        return f"{self.transaction_id}-{self.position}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Position):
            return NotImplemented
        return (self.transaction_id, self.position) < (other.transaction_id, other.position)

    @classmethod
    def parse(cls, token: str) -> Self:
        """The inverse of `str()`; the token is opaque to clients, so any other text is bad."""
        parts = token.split("-")
        # Canonical digits only (no sign, no leading zero), so each position has one token.
        if len(parts) != 2 or not all(
            p.isascii() and p.isdigit() and len(p) <= 19 and str(int(p)) == p for p in parts
        ):
            raise InvalidPosition(f"not a position token: {token[:40]!r}")
        transaction_id, position = (int(p) for p in parts)
        if transaction_id >= 2**63 or position >= 2**63:
            raise InvalidPosition(f"not a position token: {token[:40]!r}")
        return cls(transaction_id, position)


START = Position(0, 0)
