"""Stream histories and the global feed, for read-token holders."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from command_api.deps import SessionDep
from command_api.schemas import EventOut, FeedPage, StreamHistory
from domain import order, user
from eventstore import START, InvalidPosition, Position, load_stream, read_feed_page
from eventstore.position import TOKEN_PATTERN
from web.auth import ReadCaller
from web.problems import PROBLEM_RESPONSES, Problem

router = APIRouter(tags=["events"], responses=PROBLEM_RESPONSES)

MAX_PAGE = 1000


@router.get("/users/{user_id}/events", response_model=StreamHistory)
async def user_history(user_id: UUID, session: SessionDep, _: ReadCaller) -> StreamHistory:
    return await _history(session, user_id, user.STREAM_TYPE)


@router.get("/orders/{order_id}/events", response_model=StreamHistory)
async def order_history(order_id: UUID, session: SessionDep, _: ReadCaller) -> StreamHistory:
    return await _history(session, order_id, order.STREAM_TYPE)


@router.get("/events", response_model=FeedPage)
async def feed(
    session: SessionDep,
    _: ReadCaller,
    after: Annotated[
        str | None,
        Query(
            max_length=60,
            description="a `next` or position token",
            # Documented, not enforced here: any other text is a 400 (below).
            json_schema_extra={"pattern": TOKEN_PATTERN},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> FeedPage:
    """The global feed in subscriber order: every committed event once, gaps impossible."""
    try:
        start = START if after is None else Position.parse(after)
    except InvalidPosition as error:
        raise Problem(400, "Bad position", str(error)) from None
    async with session.begin():
        events = await read_feed_page(session, start, limit)
    return FeedPage(
        events=[EventOut.of(e) for e in events], next=str(events[-1].position if events else start)
    )


async def _history(session: SessionDep, stream_id: UUID, stream_type: str) -> StreamHistory:
    async with session.begin():
        records = await load_stream(session, stream_id)
    if not records or records[0].stream_type != stream_type:
        raise Problem(404, "Not found", f"no such {stream_type}")
    return StreamHistory(stream_id=stream_id, events=[EventOut.of(r) for r in records])
