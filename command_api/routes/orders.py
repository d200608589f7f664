from uuid import UUID, uuid4

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from command_api import handlers
from command_api.deps import CommandDep, IfMatchDep
from command_api.execution import run_command
from command_api.schemas import Accepted, OrderBody, OrderPatch
from domain import order
from web.headers import HeaderDocumentingRoute
from web.problems import PROBLEM_RESPONSES

router = APIRouter(route_class=HeaderDocumentingRoute, tags=["orders"], responses=PROBLEM_RESPONSES)


@router.post("/users/{user_id}/orders", status_code=201, response_model=Accepted)
async def place_order(user_id: UUID, body: OrderBody, context: CommandDep) -> JSONResponse:
    """Place an order for a live user: 404 for an unknown user, 410 for a deleted one."""
    order_id = uuid4()
    command = order.PlaceOrder(
        user_id=user_id, product=body.product, quantity=body.quantity, unit_price=body.unit_price
    )
    return await run_command(
        context,
        "place_order",
        lambda unit: handlers.place_order(
            unit.session, user_id, order_id, command, context.metadata
        ),
        location=lambda result: f"/orders/{result.stream_id}",
    )


@router.put("/orders/{order_id}", response_model=Accepted)
async def replace_order(
    order_id: UUID,
    body: OrderBody,
    context: CommandDep,
    if_match: IfMatchDep,
) -> JSONResponse:
    command = order.ChangeOrder(
        product=body.product, quantity=body.quantity, unit_price=body.unit_price
    )
    return await _change(order_id, command, "change_order", context, if_match)


@router.patch("/orders/{order_id}", response_model=Accepted)
async def update_order(
    order_id: UUID,
    body: OrderPatch,
    context: CommandDep,
    if_match: IfMatchDep,
) -> JSONResponse:
    command = order.ChangeOrder(
        product=body.product, quantity=body.quantity, unit_price=body.unit_price
    )
    return await _change(order_id, command, "change_order", context, if_match)


@router.delete("/orders/{order_id}", response_model=Accepted)
async def cancel_order(order_id: UUID, context: CommandDep, if_match: IfMatchDep) -> JSONResponse:
    """Cancel an open order; a cancelled order answers 410 to further commands."""
    command = order.CancelOrder()
    return await _change(order_id, command, "cancel_order", context, if_match)


async def _change(
    order_id: UUID,
    command: order.ChangeOrder | order.CancelOrder,
    name: str,
    context: CommandDep,
    if_match: IfMatchDep,
) -> JSONResponse:
    return await run_command(
        context,
        name,
        lambda unit: handlers.change_order(
            unit.session, order_id, command, if_match, context.metadata
        ),
    )
