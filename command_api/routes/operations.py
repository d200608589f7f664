"""Liveness, readiness and metrics: open, so that orchestrators and scrapers need no token."""

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from command_api.wakeup import ProjectorWakeup
from web.metrics import metrics_endpoint

router = APIRouter(tags=["operations"])
router.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


class Readiness(BaseModel):
    postgres: Literal["ok", "unavailable"]
    redis: Literal["ok", "unavailable"]


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "PostgreSQL did not answer"}},
)
async def ready(request: Request) -> JSONResponse:
    """Ready when PostgreSQL answers; Redis is reported but optional (guarantee 6)."""
    engine: AsyncEngine = request.app.state.engine
    wakeup: ProjectorWakeup = request.app.state.wakeup
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        postgres = "ok"
    except Exception:
        postgres = "unavailable"
    redis = "ok" if await wakeup.ping() else "unavailable"
    return JSONResponse(
        {"postgres": postgres, "redis": redis},
        status_code=200 if postgres == "ok" else 503,
    )
