from uuid import UUID, uuid4

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from command_api import handlers
from command_api.deps import CommandDep, IfMatchDep
from command_api.execution import run_command
from command_api.schemas import Accepted, UserBody, UserPatch
from domain import user
from web.headers import HeaderDocumentingRoute
from web.problems import PROBLEM_RESPONSES

router = APIRouter(route_class=HeaderDocumentingRoute, tags=["users"], responses=PROBLEM_RESPONSES)


@router.post("/users", status_code=201, response_model=Accepted)
async def register_user(body: UserBody, context: CommandDep) -> JSONResponse:
    """Register a user; 409 when a live user has the email (compared case-insensitively)."""
    user_id = uuid4()
    command = user.RegisterUser(name=body.name, email=body.email)
    return await run_command(
        context,
        "register_user",
        lambda unit: handlers.register_user(unit, user_id, command, context.metadata),
        location=lambda result: f"/users/{result.stream_id}",
    )


@router.put("/users/{user_id}", response_model=Accepted)
async def replace_user(
    user_id: UUID, body: UserBody, context: CommandDep, if_match: IfMatchDep
) -> JSONResponse:
    command = user.ChangeUser(name=body.name, email=body.email)
    return await _change(user_id, command, context, if_match)


@router.patch("/users/{user_id}", response_model=Accepted)
async def update_user(
    user_id: UUID, body: UserPatch, context: CommandDep, if_match: IfMatchDep
) -> JSONResponse:
    command = user.ChangeUser(name=body.name, email=body.email)
    return await _change(user_id, command, context, if_match)


async def _change(
    user_id: UUID,
    command: user.ChangeUser,
    context: CommandDep,
    if_match: IfMatchDep,
) -> JSONResponse:
    return await run_command(
        context,
        "change_user",
        lambda unit: handlers.change_user(
            unit.session, user_id, command, if_match, context.metadata
        ),
    )


@router.delete("/users/{user_id}", response_model=Accepted)
async def delete_user(user_id: UUID, context: CommandDep, if_match: IfMatchDep) -> JSONResponse:
    """Delete the user, cancelling their open orders in the same transaction."""
    return await run_command(
        context,
        "delete_user",
        lambda unit: handlers.delete_user(unit.session, user_id, if_match, context.metadata),
    )
