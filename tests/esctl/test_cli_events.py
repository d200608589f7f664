"""`esctl events tail` and `esctl events stream`, against a real event store."""

import asyncio
import json
import os
import re
import signal
import sys
import uuid
from pathlib import Path

from eventstore import START, read_feed_page
from tests.conftest import unique_email
from tests.esctl.cli import esctl, populate, stores_env
from tests.projector.conftest import Stack, settle

ESCTL = Path(sys.executable).with_name("esctl")  # the console script the install puts on PATH
FEED_LINE = re.compile(r"^(\d+-\d+)  (\w+)/([0-9a-f-]{36})  v(\d+)  (\w+)  (\{.*\})$")


def feed_lines(output: str) -> list[re.Match[str]]:
    # Only the event lines: the in-process command API may log to the same stdout.
    return [m for line in output.splitlines() if (m := FEED_LINE.match(line))]


async def test_tail_without_follow_prints_the_feed_in_subscriber_order(stack: Stack) -> None:
    await populate(stack.writer)
    await settle(stack.projection)  # every event visible to a feed reader
    async with stack.sessions() as session:
        feed = await read_feed_page(session, START, 1000)

    result = await esctl("events", "tail", "--no-follow", env=stores_env(stack.settings))

    assert result.exit_code == 0, result.output
    lines = feed_lines(result.stdout)
    assert [m[1] for m in lines] == [str(e.position) for e in feed]
    for m, event in zip(lines, feed, strict=True):
        assert (m[2], m[3], int(m[4]), m[5]) == (
            event.stream_type,
            str(event.stream_id),
            event.version,
            event.event_type,
        )
        assert json.loads(m[6]) == event.data


async def test_tail_starts_after_a_position_and_stops_at_the_limit(stack: Stack) -> None:
    await populate(stack.writer)
    await settle(stack.projection)
    async with stack.sessions() as session:
        feed = await read_feed_page(session, START, 1000)

    result = await esctl(
        "events",
        "tail",
        *("--after", str(feed[2].position), "--limit", "3"),
        env=stores_env(stack.settings),
    )

    assert result.exit_code == 0, result.output
    assert [m[1] for m in feed_lines(result.stdout)] == [str(e.position) for e in feed[3:6]]


async def test_tail_follows_events_written_after_it_started(stack: Stack) -> None:
    await populate(stack.writer, users=1)
    await settle(stack.projection)
    async with stack.sessions() as session:
        head = (await read_feed_page(session, START, 1000))[-1].position
    # Nothing after the head yet: only a tail that keeps polling can print these two.
    tail = asyncio.create_task(
        esctl(
            "events",
            "tail",
            *("--follow", "--after", str(head), "--limit", "2"),
            env=stores_env(stack.settings),
        )
    )
    await asyncio.sleep(1.5)
    assert not tail.done(), "it stopped at the head of the feed"
    emails = [unique_email("late") for _ in range(2)]
    for email in emails:
        response = await stack.writer.post("/users", json={"name": "Late", "email": email})
        assert response.status_code == 201, response.text

    result = await asyncio.wait_for(tail, timeout=20)

    assert result.exit_code == 0, result.output
    lines = feed_lines(result.stdout)
    assert [m[5] for m in lines] == ["UserRegistered", "UserRegistered"]
    assert [json.loads(m[6])["email"] for m in lines] == emails


async def test_ctrl_c_stops_a_following_tail_cleanly(stack: Stack) -> None:
    await populate(stack.writer, users=1)
    await settle(stack.projection)
    env = {**os.environ, **stores_env(stack.settings)}
    process = await asyncio.create_subprocess_exec(
        str(ESCTL),
        *("events", "tail", "--follow"),
        env={k: v for k, v in env.items() if v is not None},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        first = await asyncio.wait_for(process.stdout.readline(), timeout=30)  # type: ignore[union-attr]
        assert FEED_LINE.match(first.decode().rstrip("\n")), first
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr


async def test_stream_prints_one_history_as_a_table_and_as_the_api_json(stack: Stack) -> None:
    demo = await populate(stack.writer, users=1)
    user_id = demo.users[0]

    table = await esctl("events", "stream", user_id, env=stores_env(stack.settings))
    assert table.exit_code == 0, table.output
    assert f"user {user_id}: 4 events" in table.stdout
    for event_type in ("UserRegistered", "UserOrderPlaced", "UserNameChanged"):
        assert event_type in table.stdout

    as_json = await esctl("events", "stream", user_id, "--json", env=stores_env(stack.settings))
    assert as_json.exit_code == 0, as_json.output
    from_api = await stack.writer.get(f"/users/{user_id}/events")
    assert from_api.status_code == 200, from_api.text
    assert json.loads(as_json.stdout) == from_api.json()


async def test_stream_of_an_unknown_id_is_an_error(stack: Stack) -> None:
    unknown = str(uuid.uuid4())
    result = await esctl("events", "stream", unknown, env=stores_env(stack.settings))
    assert result.exit_code == 1
    assert f"no stream with id {unknown}" in result.stderr
