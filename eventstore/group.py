"""Appends that would each run alone, committed together (group commit).

An append alone (`append_alone`) is one transaction, and under load most of its cost is the
transaction's, not its rows': a pooled connection and a round trip on this side; a statement
to parse and run, a commit and a WAL flush on PostgreSQL's. `GroupedAppends` sends the
appends asked for in one turn of the event loop as one statement that calls `es_append` for
each in turn: one transaction, one commit for all of them. Alone, an append is sent as
before, one turn later.

Each append still succeeds or fails on its own. When one append's check fails (a taken
email, a version conflict), the statement is refused and nothing of it has committed; the
group is then sent again through `es_append_each` (migration 0004), which runs each append
in a subtransaction and reports the refused ones, so that the others still commit together.
Any other refusal (a deadlock) runs each append again alone, for its own answer. Any other
failure (the connection lost, no connection to be had) is every member's, as it would have
been alone.

Groups are sorted by the unique keys their members claim, then by their streams, so that two
of them running at once take those in the same order and do not deadlock on them;
`es_append` locks a member's own streams in id order. The appends run alone are new users'
(one new stream, one claim each).
"""

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from asyncpg import PostgresError, Record
from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore.append import (
    append_alone,
    append_result,
    commit_payload,
    refusal_of,
    run_in_own_transaction,
)
from eventstore.errors import ConcurrencyConflict, StreamDeleted, UniqueKeyTaken
from eventstore.records import AppendResult, StreamWrite, UniqueClaim

_GROUP_CALL = (
    "SELECT p.n, a.transaction_id, a.event_position"
    " FROM unnest($1::jsonb[]) WITH ORDINALITY AS p(payload, n)"
    " CROSS JOIN LATERAL es_append(p.payload) AS a"
)
_EACH_CALL = "SELECT n, transaction_id, event_position, refusal, detail FROM es_append_each($1)"
_CHECK_REFUSED = (ConcurrencyConflict, StreamDeleted, UniqueKeyTaken)
# A member waiting on a lock holds up the rest of its group: groups stay small enough that
# one such wait costs a few dozen commands. And `es_append_each` gives each member a
# subtransaction: past 64 in one transaction, PostgreSQL's snapshots of every session slow
# down (the subtransaction cache overflows).
MAX_GROUP = 32


@dataclass
class _Asked:
    writes: Sequence[StreamWrite]
    claims: Sequence[UniqueClaim]
    releases: Sequence[UniqueClaim]
    payload: str
    answer: asyncio.Future[AppendResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def lock_order(self) -> tuple[list[tuple[str, str]], list[str]]:
        claims = sorted((claim.scope, claim.value) for claim in self.claims)
        return claims, sorted(str(write.stream_id) for write in self.writes)

    async def append_alone(self, engine: AsyncEngine) -> AppendResult:
        return await append_alone(engine, self.writes, claims=self.claims, releases=self.releases)


class GroupedAppends:
    """`append_alone`, grouped with the other appends asked for at the same time."""

    def __init__(self, engine: AsyncEngine, max_group: int = MAX_GROUP) -> None:
        self._engine = engine
        self._max_group = max_group
        self._asked: list[_Asked] = []
        self._groups: set[asyncio.Task[None]] = set()

    async def append(
        self,
        writes: Sequence[StreamWrite],
        *,
        claims: Sequence[UniqueClaim] = (),
        releases: Sequence[UniqueClaim] = (),
    ) -> AppendResult:
        asked = _Asked(writes, claims, releases, commit_payload(writes, claims, releases))
        if not self._asked:
            asyncio.get_running_loop().call_soon(self._send)
        self._asked.append(asked)
        try:
            return await asked.answer
        except Exception as error:
            # The one error of a whole group: its traceback from here on is this asker's,
            # not theirs piled onto it.
            raise error.with_traceback(None) from error.__cause__

    def _send(self) -> None:
        asked, self._asked = self._asked, []
        asked.sort(key=_Asked.lock_order)
        for start in range(0, len(asked), self._max_group):
            group = asyncio.create_task(self._commit(asked[start : start + self._max_group]))
            # The loop keeps only a weak reference to a task.
            self._groups.add(group)
            group.add_done_callback(self._groups.discard)

    async def _commit(self, group: list[_Asked]) -> None:
        # Those whose askers have gone (a client hanging up) are not appended, as alone.
        group = [asked for asked in group if not asked.answer.done()]
        try:
            if len(group) == 1:
                await _answer(group[0], group[0].append_alone(self._engine))
            elif group:
                await self._commit_together(group)
        except asyncio.CancelledError:
            for asked in group:
                asked.answer.cancel()
            raise
        except Exception as error:  # whatever it is, no asker is left waiting
            for asked in group:
                _settle(asked, error)

    async def _commit_together(self, group: list[_Asked]) -> None:
        rows = await self._rows(group)
        if rows is None:  # each was answered alone
            return
        answers: dict[int, list[tuple[object, ...]]] = {}
        refusals: dict[int, Exception] = {}
        for n, transaction_id, position, *refused in rows:
            if transaction_id is None:
                state, detail = refused
                refusals[n] = refusal_of(state, detail) or RuntimeError(f"refused: {state}")
            else:
                answers.setdefault(n, []).append((transaction_id, position))
        for n, asked in enumerate(group, start=1):
            _settle(asked, refusals.get(n) or append_result(asked.writes, answers[n]))

    async def _rows(self, group: list[_Asked]) -> list[Record] | None:
        """What the group's appends returned, committed together, with a refusal in place of
        those refused; None when the server refused otherwise and each ran alone instead."""
        payloads = [asked.payload for asked in group]
        try:
            try:
                return await run_in_own_transaction(self._engine, _GROUP_CALL, payloads)
            except _CHECK_REFUSED:  # one append's check: the others can still commit together
                return await run_in_own_transaction(self._engine, _EACH_CALL, payloads)
        except PostgresError:
            await self._commit_alone(group)
            return None

    async def _commit_alone(self, group: list[_Asked]) -> None:
        # Not those whose askers have gone meanwhile.
        again = [asked for asked in group if not asked.answer.done()]
        await asyncio.gather(*(_answer(a, a.append_alone(self._engine)) for a in again))


async def _answer(asked: _Asked, append: Awaitable[AppendResult]) -> None:
    try:
        result = await append
    except Exception as error:
        _settle(asked, error)
    else:
        _settle(asked, result)


def _settle(asked: _Asked, outcome: AppendResult | Exception) -> None:
    if asked.answer.done():  # its asker has gone
        return
    if isinstance(outcome, Exception):
        asked.answer.set_exception(outcome)
    else:
        asked.answer.set_result(outcome)
