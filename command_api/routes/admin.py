"""Projection status and rebuild, for admin-token holders (DESIGN.md, Operations).

The rebuild itself runs in the projector, as an arq job: this API only queues it, under one
job id per projection, so that a second request cannot start a second rebuild beside it.
"""

import contextlib
from typing import Annotated

from arq.connections import ArqRedis
from fastapi import APIRouter, Body, Depends, Request, Response
from redis.exceptions import RedisError

from command_api.deps import ProjectorQueueDep, ReadStoreDep, SessionsDep
from command_api.schemas import ProjectionList, RebuildOptions, RebuildQueued
from projector import CATCH_UP_JOB, REBUILD_JOB
from projector.overview import PROJECTIONS, ProjectionOverview, overview
from projector.storage import resume
from web.auth import Access, authenticate, require
from web.problems import PROBLEM_RESPONSES, Problem

# On the router, so that no admin route can be added without the check.
router = APIRouter(
    prefix="/admin/projections",
    tags=["admin"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require(Access.ADMIN))],
)


@router.get("", response_model=ProjectionList)
async def list_projections(db: ReadStoreDep, sessions: SessionsDep) -> ProjectionList:
    """Each projection's checkpoint, lag (measured now) and state."""
    return ProjectionList(projections=[await overview(db, sessions, name) for name in PROJECTIONS])


@router.get("/{name}", response_model=ProjectionOverview)
async def show_projection(name: str, db: ReadStoreDep, sessions: SessionsDep) -> ProjectionOverview:
    """One projection's state, with the progress of its latest rebuild."""
    return await overview(db, sessions, _known(name))


@router.post("/{name}/rebuild", status_code=202, response_model=RebuildQueued)
async def rebuild(
    name: str,
    queue: ProjectorQueueDep,
    response: Response,
    options: Annotated[RebuildOptions | None, Body()] = None,
) -> RebuildQueued:
    """Queue a rebuild (guarantee 7); 409 while one is queued or running."""
    options = options or RebuildOptions()
    status = f"/admin/projections/{_known(name)}"
    job_id = rebuild_job_id(queue, name)
    # Redis faults answer 503 (see `errors`): unlike a wake-up, this request is about the job.
    job = await queue.enqueue_job(
        REBUILD_JOB,
        name,
        _job_id=job_id,
        from_scratch=options.from_scratch,
        keep_old=options.keep_old,
    )
    if job is None:  # arq keeps the job's key until the job ends: one rebuild at a time
        raise Problem(
            409,
            "Rebuild already queued",
            "a rebuild is already queued or running",
            headers={"Location": status},
        )
    response.headers["Location"] = status
    return RebuildQueued(
        job_id=job_id,
        projection=name,
        from_scratch=options.from_scratch,
        keep_old=options.keep_old,
        status=status,
    )


@router.post("/{name}/resume", response_model=ProjectionOverview)
async def resume_projection(
    name: str,
    request: Request,
    db: ReadStoreDep,
    sessions: SessionsDep,
    queue: ProjectorQueueDep,
) -> ProjectionOverview:
    """Lift a poison stop once its cause is fixed; the stop is kept in the status's record.
    The event is applied again, and stops the projection again if it still cannot be."""
    caller = authenticate(request, Access.ADMIN)
    if await resume(db, _known(name), by=caller.principal) is None:
        raise Problem(409, "Not stopped", f"projection {name!r} is not stopped")
    with contextlib.suppress(RedisError, OSError):  # a hint only: the cron job follows anyway
        await queue.enqueue_job(CATCH_UP_JOB)
    return await overview(db, sessions, name)


def rebuild_job_id(queue: ArqRedis, name: str) -> str:
    """Fixed per projection, and per queue: deployments (and test runs) sharing one Redis
    have queues, and projections, of their own."""
    return f"{queue.default_queue_name}:rebuild:{name}"


def _known(name: str) -> str:
    if name not in PROJECTIONS:
        known = ", ".join(PROJECTIONS)
        raise Problem(404, "Not found", f"no projection named {name[:100]!r} (known: {known})")
    return name
