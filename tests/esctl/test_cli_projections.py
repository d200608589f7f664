"""`esctl projections status` and `rebuild`, run as an operator runs them, against real stores."""

import json
import uuid

import pytest
from sqlalchemy import text

from esctl.ports import HOST, free_port
from eventstore import EventMetadata, NewEvent, StreamWrite, append, load_stream
from projector import rebuild as rebuild_module
from projector.storage import read_status
from readmodel.collections import STATUS, ReadCollections
from tests.conftest import count_events
from tests.esctl.cli import documents, esctl, populate, stores_env
from tests.projector.conftest import Stack, settle


async def status_json(stack: Stack) -> dict[str, object]:
    result = await esctl("projections", "status", "--json", env=stores_env(stack.settings))
    assert result.exit_code == 0, result.output
    (main,) = json.loads(result.stdout)
    assert isinstance(main, dict)
    return main


async def test_status_shows_a_caught_up_projection_as_a_table_and_as_json(stack: Stack) -> None:
    await populate(stack.writer)
    await settle(stack.projection)
    live = await read_status(stack.db, "main")

    main = await status_json(stack)
    assert main["name"] == "main"
    assert main["state"] == "running"
    assert main["checkpoint"] == live.checkpoint != "0-0"
    assert main["lag_events"] == 0
    assert main["generation"] == 0
    assert main["events_applied"] == await count_events(stack.sessions)
    assert main["rebuild"] is None

    table = await esctl("projections", "status", env=stores_env(stack.settings))
    assert table.exit_code == 0, table.output
    assert "main" in table.stdout
    assert "running" in table.stdout
    assert live.checkpoint in table.stdout


async def test_status_measures_the_lag_of_events_not_yet_projected(stack: Stack) -> None:
    await populate(stack.writer, users=1)
    await settle(stack.projection)
    await populate(stack.writer, users=1)  # 7 events the projection has not seen

    main = await status_json(stack)
    assert main["lag_events"] == 7
    assert isinstance(main["lag_seconds"], float)
    assert main["lag_seconds"] >= 0


async def test_status_shows_a_stopped_projection_with_its_error(stack: Stack) -> None:
    demo = await populate(stack.writer, users=1)
    user_id = uuid.UUID(demo.users[0])
    meta = EventMetadata(correlation_id="poison", who="tests")
    async with stack.sessions() as session, session.begin():
        version = len(await load_stream(session, user_id))
        poison = NewEvent("UserTeleported", 1, {}, meta)
        await append(session, [StreamWrite(user_id, "user", version, [poison])])
    await settle(stack.projection)

    main = await status_json(stack)
    assert main["state"] == "stopped"
    error = main["error"]
    assert isinstance(error, dict)
    assert error["event_type"] == "UserTeleported"

    table = await esctl("projections", "status", env=stores_env(stack.settings))
    assert "stopped" in table.stdout
    assert "UserTeleported" in table.stdout


async def test_rebuild_replays_every_event_into_identical_documents_and_switches(
    stack: Stack,
) -> None:
    await populate(stack.writer)
    await settle(stack.projection)
    before = await documents(stack, ReadCollections())
    events = await count_events(stack.sessions)

    result = await esctl(
        "projections", "rebuild", "main", "--keep-old", env=stores_env(stack.settings)
    )
    assert result.exit_code == 0, result.output
    assert f"rebuilt main: generation 1, {events} events in" in result.stdout
    assert "events/s" in result.stdout

    live = await read_status(stack.db, "main")
    assert live.generation == 1
    assert live.collections == ReadCollections.of_generation(1)
    assert await documents(stack, live.collections) == before
    assert "users" in await stack.db.list_collection_names(), "--keep-old keeps the old ones"

    main = await status_json(stack)
    assert main["generation"] == 1
    assert main["state"] == "running"
    rebuild = main["rebuild"]
    assert isinstance(rebuild, dict)
    assert (rebuild["phase"], rebuild["events_applied"]) == ("done", events)
    table = await esctl("projections", "status", env=stores_env(stack.settings))
    assert f"done: generation 1, {events} events" in table.stdout


async def test_rebuild_drops_the_replaced_collections_unless_told_to_keep_them(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wait that lets readers of the old names finish; not what this test is about.
    monkeypatch.setattr(rebuild_module, "DROP_OLD_AFTER_SECONDS", 0.0)
    await populate(stack.writer, users=1)
    await settle(stack.projection)

    result = await esctl("projections", "rebuild", "main", env=stores_env(stack.settings))
    assert result.exit_code == 0, result.output
    assert "the replaced collections users, orders are dropped" in result.stdout
    names = await stack.db.list_collection_names()
    assert {"users_1", "orders_1"} <= set(names)
    assert not {"users", "orders"} & set(names)


async def test_rebuild_of_an_unknown_projection_is_refused(stack: Stack) -> None:
    result = await esctl("projections", "rebuild", "nope", env=stores_env(stack.settings))
    assert result.exit_code == 2
    assert "no projection 'nope'" in result.output
    assert await stack.db[STATUS].find_one({"_id": {"$regex": "^nope"}}) is None


async def test_rebuild_stops_before_replaying_when_redis_does_not_answer(stack: Stack) -> None:
    await populate(stack.writer, users=1)
    await settle(stack.projection)
    silent_redis = f"redis://{HOST}:{free_port()}/0"

    result = await esctl(
        "projections", "rebuild", "main", env=stores_env(stack.settings, REDIS_URL=silent_redis)
    )

    assert result.exit_code == 1
    assert f"Redis at {silent_redis} does not answer" in result.stderr
    assert await stack.db[STATUS].find_one({"_id": "main.rebuild"}) is None, "nothing replayed"


async def test_a_failed_rebuild_exits_non_zero_with_the_reason(stack: Stack) -> None:
    await populate(stack.writer, users=1)
    await settle(stack.projection)
    # Damaged by hand, as no command could: the replay cannot apply what the live one did.
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE events SET data = '{}'::jsonb WHERE event_type = 'OrderPlaced'")
        )

    result = await esctl("projections", "rebuild", "main", env=stores_env(stack.settings))
    assert result.exit_code == 1
    assert "rebuild of main failed" in result.stderr
    assert "stopped at OrderPlaced" in result.stderr
    assert (await read_status(stack.db, "main")).generation == 0
