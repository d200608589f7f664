"""Orders: one with its user's current name and email, and listings by user and status."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from query_api.conditional import NOT_MODIFIED, conditional_response
from query_api.deps import ConditionalReadDep, ReadDep
from query_api.pagination import PageParams, read_page
from query_api.schemas import OrderOut, Page
from readmodel.documents import OrderStatus
from web.headers import HeaderDocumentingRoute
from web.problems import PROBLEM_RESPONSES, Problem

router = APIRouter(route_class=HeaderDocumentingRoute, tags=["orders"], responses=PROBLEM_RESPONSES)


@router.get("/orders")
async def list_orders(
    read: ReadDep,
    page: PageParams,
    user_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[OrderStatus | None, Query()] = None,
) -> Page[OrderOut]:
    """Orders in id order, of every user (deleted ones too), optionally filtered."""
    await read.settle()
    # Typed by the query parameters above: only a UUID's text or a known status gets here.
    query: dict[str, object] = {}
    if user_id is not None:
        query["user_id"] = str(user_id)
    if status is not None:
        query["status"] = status.value
    return await read_page(read.orders, query, page, OrderOut.from_mongo)


@router.get("/orders/{order_id}", response_model=OrderOut, responses=NOT_MODIFIED)
async def get_order(order_id: UUID, read: ConditionalReadDep) -> Response:
    await read.settle()
    raw = await read.find_order(order_id)
    if raw is None:
        raise Problem(404, "Not found", "no such order")
    return conditional_response(read.render_order(raw), read.if_none_match)
