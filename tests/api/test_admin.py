"""The admin endpoints: projection status and rebuild, behind the admin token.

The rebuild itself, run by the projector, is tested in `tests/projector/test_rebuild_job.py`;
here, what the command API answers and what it leaves in the projector's queue.
"""

import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from fastapi import FastAPI

from command_api.app import create_app
from projector import REBUILD_JOB
from projector.overview import ProjectionOverview
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN, client_for, unique_email
from tests.support.mongo import MongoServer

PROBLEM_JSON = "application/problem+json"
ROUTES = [
    pytest.param("GET", "/admin/projections", id="list"),
    pytest.param("GET", "/admin/projections/main", id="show"),
    pytest.param("POST", "/admin/projections/main/rebuild", id="rebuild"),
]


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def admin_settings(settings: Settings, mongo_server: MongoServer) -> Settings:
    """A queue of its own, so that it starts empty, and a MongoDB that answers."""
    return settings.model_copy(
        update={
            "mongodb_url": mongo_server.url,
            "mongodb_db": f"admin_{uuid.uuid4().hex[:12]}",
            "projector_queue": f"arq:test:{uuid.uuid4().hex}",
        }
    )


@pytest.fixture
async def app(admin_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(admin_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def admin(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
async def queue(admin_settings: Settings) -> AsyncIterator[ArqRedis]:
    """The app's projector queue, seen from outside; emptied, jobs and all, afterwards."""
    name = admin_settings.projector_queue
    redis: ArqRedis = await create_pool(
        RedisSettings.from_dsn(admin_settings.redis_url), default_queue_name=name
    )
    yield redis
    jobs = [job_id.decode() for job_id in await redis.zrange(name, 0, -1)]
    await redis.delete(name, *(f"arq:job:{job_id}" for job_id in jobs))
    await redis.aclose()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    return problem


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no token"),
        pytest.param("Bearer wrong-token", id="unknown token"),
        pytest.param(f"Basic {ADMIN_TOKEN}", id="admin token under the Basic scheme"),
    ],
)
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_admin_routes_answer_401_without_a_valid_token(
    method: str, path: str, authorization: str | None, app: FastAPI, queue: ArqRedis
) -> None:
    async with client_for(app, None) as client:
        if authorization is not None:
            client.headers["Authorization"] = authorization
        response = await client.request(method, path)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await queue.queued_jobs() == []


@pytest.mark.parametrize(
    "token", [pytest.param(READ_TOKEN, id="read"), pytest.param(WRITE_TOKEN, id="write")]
)
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_admin_routes_answer_403_to_read_and_write_tokens(
    method: str, path: str, token: str, app: FastAPI, queue: ArqRedis
) -> None:
    async with client_for(app, token) as client:
        response = await client.request(method, path)
    assert "admin" in assert_problem(response, 403)["detail"]
    assert await queue.queued_jobs() == []


async def test_the_list_shows_each_projection_with_its_checkpoint_lag_and_state(
    admin: httpx.AsyncClient, app: FastAPI
) -> None:
    async with client_for(app, WRITE_TOKEN) as writer:
        created = await writer.post("/users", json={"name": "Ada", "email": unique_email()})
        assert created.status_code == 201, created.text

    response = await admin.get("/admin/projections")

    assert response.status_code == 200, response.text
    projections = response.json()["projections"]
    assert [p["name"] for p in projections] == ["main"]
    main = projections[0]
    assert set(main) == set(ProjectionOverview.model_fields)
    # Nothing projects into this database: the projection is where it starts, and behind.
    assert (main["state"], main["checkpoint"], main["generation"]) == ("running", "0-0", 0)
    assert main["lag_events"] >= 1
    assert main["lag_seconds"] >= 0
    assert main["collections"] == {"users": "users", "orders": "orders"}
    assert main["rebuild"] is None
    assert (await admin.get("/admin/projections/main")).json()["name"] == "main"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/admin/projections/nope", id="show"),
        pytest.param("POST", "/admin/projections/nope/rebuild", id="rebuild"),
        pytest.param("POST", "/admin/projections/main.rebuild/rebuild", id="a rebuild's status"),
    ],
)
async def test_an_unknown_projection_is_404(
    method: str, path: str, admin: httpx.AsyncClient, queue: ArqRedis
) -> None:
    assert_problem(await admin.request(method, path), 404)
    assert await queue.queued_jobs() == []


async def test_a_rebuild_is_queued_for_the_projector_and_answered_202(
    admin: httpx.AsyncClient, queue: ArqRedis
) -> None:
    response = await admin.post("/admin/projections/main/rebuild", json={"from_scratch": True})

    assert response.status_code == 202, response.text
    assert response.headers["location"] == "/admin/projections/main"
    body = response.json()
    assert body["status"] == "/admin/projections/main"
    assert (body["projection"], body["from_scratch"], body["keep_old"]) == ("main", True, False)
    [job] = await queue.queued_jobs()
    assert job.job_id == body["job_id"]
    assert (job.function, job.args) == (REBUILD_JOB, ("main",))
    assert job.kwargs == {"from_scratch": True, "keep_old": False}


async def test_a_rebuild_without_a_body_takes_the_defaults(
    admin: httpx.AsyncClient, queue: ArqRedis
) -> None:
    response = await admin.post("/admin/projections/main/rebuild")
    assert response.status_code == 202, response.text
    [job] = await queue.queued_jobs()
    assert job.kwargs == {"from_scratch": False, "keep_old": False}


async def test_a_second_rebuild_while_one_is_queued_is_409(
    admin: httpx.AsyncClient, queue: ArqRedis
) -> None:
    first = await admin.post("/admin/projections/main/rebuild", json={"keep_old": True})
    assert first.status_code == 202, first.text

    second = await admin.post("/admin/projections/main/rebuild", json={"from_scratch": True})

    problem = assert_problem(second, 409)
    assert problem["detail"] == "a rebuild is already queued or running"
    assert second.headers["location"] == "/admin/projections/main"
    [job] = await queue.queued_jobs()
    assert job.kwargs == {"from_scratch": False, "keep_old": True}, "the first one stands"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"from_scratch": "true"}, id="a string for a flag"),
        pytest.param({"keep_old": 1}, id="a number for a flag"),
        pytest.param({"from_scratch": None}, id="null for a flag"),
        pytest.param({"from_scrach": True}, id="a misspelt field"),
        pytest.param([True], id="not an object"),
    ],
)
async def test_a_rebuild_with_a_bad_body_is_422_and_queues_nothing(
    body: Any, admin: httpx.AsyncClient, queue: ArqRedis
) -> None:
    response = await admin.post("/admin/projections/main/rebuild", json=body)
    assert assert_problem(response, 422)["errors"]
    assert await queue.queued_jobs() == []


async def test_redis_down_makes_a_rebuild_503_and_leaves_the_status_readable(
    admin_settings: Settings,
) -> None:
    app = create_app(
        admin_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_dead_port()}/0"})
    )
    async with app.router.lifespan_context(app), client_for(app, ADMIN_TOKEN) as admin:
        response = await admin.post("/admin/projections/main/rebuild")
        assert_problem(response, 503)
        assert response.headers["retry-after"].isdigit()
        assert (await admin.get("/admin/projections/main")).status_code == 200


async def test_mongodb_down_makes_the_status_503_and_no_command_fails(
    admin_settings: Settings,
) -> None:
    app = create_app(
        admin_settings.model_copy(
            update={
                "mongodb_url": f"mongodb://127.0.0.1:{_dead_port()}/?directConnection=true",
                "mongo_timeout_seconds": 0.2,
            }
        )
    )
    async with app.router.lifespan_context(app), client_for(app, ADMIN_TOKEN) as admin:
        for path in ("/admin/projections", "/admin/projections/main"):
            response = await admin.get(path)
            assert_problem(response, 503)
            assert response.headers["retry-after"].isdigit()
        created = await admin.post("/users", json={"name": "Ada", "email": unique_email()})
        assert created.status_code == 201, created.text


async def test_postgresql_down_makes_the_status_503(admin_settings: Settings) -> None:
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{_dead_port()}/postgres"
    app = create_app(
        admin_settings.model_copy(update={"database_url": dead, "db_timeout_seconds": 0.5})
    )
    async with app.router.lifespan_context(app), client_for(app, ADMIN_TOKEN) as admin:
        response = await admin.get("/admin/projections/main")
        assert_problem(response, 503)
        assert response.headers["retry-after"].isdigit()
