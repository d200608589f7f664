"""Users: the live ones listed, one with every order embedded, and one user's orders."""

import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from domain.values import email_key
from query_api.conditional import NOT_MODIFIED, conditional_response
from query_api.deps import ConditionalReadDep, ReadContext, ReadDep
from query_api.loader import Document
from query_api.pagination import PageParams, read_page
from query_api.schemas import OrderOut, Page, UserOut, UserSummary
from web.headers import HeaderDocumentingRoute
from web.problems import PROBLEM_RESPONSES, Problem

router = APIRouter(route_class=HeaderDocumentingRoute, tags=["users"], responses=PROBLEM_RESPONSES)

# Filter values are only ever compared as literals (guarantee 8); control characters, which no
# name or email holds, are refused outright, NUL above all, which a BSON regex cannot carry.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


@router.get("/users")
async def list_users(
    read: ReadDep,
    page: PageParams,
    email: Annotated[
        str | None,
        Query(min_length=1, max_length=320, pattern=_PRINTABLE, description="exact, any case"),
    ] = None,
    name_prefix: Annotated[
        str | None,
        Query(min_length=1, max_length=200, pattern=_PRINTABLE, description="case-sensitive"),
    ] = None,
) -> Page[UserSummary]:
    """Live users in id order; deleted users are never listed."""
    await read.settle()
    query: dict[str, object] = {"deleted": False}
    if email is not None:
        query["email_key"] = email_key(email)
    if name_prefix is not None:
        # Escaped and anchored: a prefix, never a pattern, and one the name index can serve.
        query["name"] = {"$regex": "^" + re.escape(name_prefix)}
    # A listing has no use for the embedded orders, which can be many.
    without_orders = {"orders": 0}
    return await read_page(
        read.users, query, page, UserSummary.from_mongo, projection=without_orders
    )


@router.get("/users/{user_id}", response_model=UserOut, responses=NOT_MODIFIED)
async def get_user(user_id: UUID, read: ConditionalReadDep) -> Response:
    """The user with every order embedded; `order_count` and `total_spent` leave out
    cancelled orders. 410 once the user is deleted."""
    await read.settle()
    return conditional_response(
        read.render_user(await _live_user(read, user_id)), read.if_none_match
    )


@router.get("/users/{user_id}/orders")
async def list_user_orders(user_id: UUID, read: ReadDep, page: PageParams) -> Page[OrderOut]:
    """The user's orders, cancelled ones included, in id order."""
    await read.settle()
    await _live_user(read, user_id, projection={"deleted": 1})
    return await read_page(read.orders, {"user_id": str(user_id)}, page, OrderOut.from_mongo)


async def _live_user(
    read: ReadContext, user_id: UUID, *, projection: dict[str, int] | None = None
) -> Document:
    raw = await read.find_user(user_id, projection)
    if raw is None:
        raise Problem(404, "Not found", "no such user")
    if raw.get("deleted"):
        raise Problem(410, "Gone", "the user was deleted")
    return raw
