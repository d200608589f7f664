"""Liveness, readiness and metrics: open, so that orchestrators and scrapers need no token."""

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from web.metrics import metrics_endpoint

router = APIRouter(tags=["operations"])
router.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


class Readiness(BaseModel):
    mongodb: Literal["ok", "unavailable"]


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "MongoDB did not answer"}},
)
async def ready(request: Request) -> JSONResponse:
    """Ready when MongoDB answers a ping (within the client's timeout)."""
    db: AsyncDatabase[dict[str, Any]] = request.app.state.db
    try:
        await db.command("ping")
        mongodb = "ok"
    except PyMongoError:
        mongodb = "unavailable"
    return JSONResponse({"mongodb": mongodb}, status_code=200 if mongodb == "ok" else 503)
