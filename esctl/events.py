"""`esctl events`: the global feed as subscribers read it, and one stream's history.

Read from the event store itself, in the order the projector reads it (guarantee 1): what
`tail` prints is what every subscriber sees, in the same order.
"""

import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from command_api.schemas import EventOut, StreamHistory
from esctl.connect import DEFAULT_DATA_DIR, DataDir, event_store, fail, resolve_target, run
from eventstore import (
    START,
    InvalidPosition,
    Position,
    RecordedEvent,
    load_stream,
    read_feed_page_alone,
)
from settings import Settings

app = typer.Typer(
    help="Read the event store: the global feed and single streams.", no_args_is_help=True
)

PAGE = 500
# How often `tail --follow` asks for new events: well under a human's notice.
POLL_SECONDS = 0.5


def parse_position(token: str | None) -> Position:
    if token is None:
        return START
    try:
        return Position.parse(token)
    except InvalidPosition as error:
        raise typer.BadParameter(f"{error} (positions look like 1234-56)") from None


@app.command()
def tail(
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Keep printing new events (Ctrl-C stops).")
    ] = True,
    after: Annotated[
        str | None, typer.Option(help="Start after this position (an Event-Position token).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """The global feed in subscriber order, one line per event:
    position, stream, version, type, data."""
    start = parse_position(after)
    target = resolve_target(data_dir)
    try:
        run(target, follow_feed(target.settings, start, follow, limit, typer.echo))
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends: not an error, and no traceback.
        raise typer.Exit(0) from None
    except BrokenPipeError:
        # `esctl events tail | head`: the reader has gone, which ends a tail as well. Point
        # stdout at nothing, so that the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


async def follow_feed(
    settings: Settings,
    after: Position,
    follow: bool,
    limit: int | None,
    emit: Callable[[str], object],
) -> int:
    """Print the feed after `after`; returns how many events were printed."""
    shown = 0
    async with event_store(settings) as sessions:
        while limit is None or shown < limit:
            size = PAGE if limit is None else min(PAGE, limit - shown)
            page = await read_feed_page_alone(sessions, after, size)
            for record in page:
                emit(feed_line(record))
            shown += len(page)
            if page:
                after = page[-1].position
            if len(page) < size:  # at the head of the feed
                if not follow:
                    break
                await asyncio.sleep(POLL_SECONDS)
    return shown


def feed_line(record: RecordedEvent) -> str:
    data = json.dumps(record.data, separators=(",", ":"), ensure_ascii=False)
    return (
        f"{record.position}  {record.stream_type}/{record.stream_id}  v{record.version}  "
        f"{record.event_type}  {data}"
    )


@app.command()
def stream(
    stream_id: Annotated[UUID, typer.Argument(metavar="ID", help="A user's or an order's id.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="As GET /users/{id}/events answers it.")
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """One stream's history, oldest first."""
    target = resolve_target(data_dir)
    records = run(target, _history(target.settings, stream_id))
    if not records:
        fail(f"no stream with id {stream_id}")
    history = StreamHistory(stream_id=stream_id, events=[EventOut.of(r) for r in records])
    if as_json:
        typer.echo(history.model_dump_json(indent=2))
    else:
        Console().print(history_table(records))


async def _history(settings: Settings, stream_id: UUID) -> list[RecordedEvent]:
    async with event_store(settings) as sessions, sessions() as session:
        return await load_stream(session, stream_id)


def history_table(records: list[RecordedEvent]) -> Table:
    first = records[0]
    table = Table(
        title=f"{first.stream_type} {first.stream_id}: {len(records)} events", show_lines=True
    )
    table.add_column("version", justify="right")
    table.add_column("type")
    table.add_column("recorded at")
    table.add_column("position")
    table.add_column("data")
    for r in records:
        data = json.dumps(r.data, indent=2, ensure_ascii=False)
        table.add_row(
            str(r.version),
            f"{r.event_type} (v{r.schema_version})",
            r.recorded_at.isoformat(timespec="seconds"),
            str(r.position),
            Syntax(data, "json", background_color="default", word_wrap=True),
        )
    return table
