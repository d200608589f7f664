"""`esctl projections`: where each projection stands, and rebuilding one from every event.

Both read the stores directly (not through the command API's admin endpoints), so that an
operator can still look and repair when the APIs are down; `projector.overview` and
`projector.rebuild` are the same code those endpoints run.
"""

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Annotated

import typer
from pymongo.errors import PyMongoError
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table
from rich.text import Text

from esctl.connect import (
    DEFAULT_DATA_DIR,
    Database,
    DataDir,
    coordination,
    event_store,
    fail,
    read_store,
    resolve_target,
    run,
)
from esctl.progress import progress_bar, summary
from projector.catch_up import Projection
from projector.overview import PROJECTIONS, OverviewState, ProjectionOverview, overview
from projector.rebuild import Rebuild, RebuildFailed, rebuild_name, run_rebuild
from projector.storage import read_status
from readmodel.collections import STATUS, ReadCollections
from readmodel.documents import ProjectionStatus, RebuildPhase
from settings import Settings

app = typer.Typer(help="Inspect and rebuild the read-side projections.", no_args_is_help=True)

STATE_STYLE = {
    OverviewState.RUNNING: "green",
    OverviewState.STOPPED: "bold red",
    OverviewState.REBUILDING: "yellow",
}
RESUMABLE = (RebuildPhase.REPLAYING, RebuildPhase.SWITCHING)
WATCH_SECONDS = 1.0
PHASE_TEXT = {
    RebuildPhase.REPLAYING: "replaying",
    RebuildPhase.SWITCHING: "switching",
    RebuildPhase.DONE: "switched",
    RebuildPhase.FAILED: "failed",
}


@app.command()
def status(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
) -> None:
    """Each projection's state, checkpoint, lag (measured now) and any rebuild's progress."""
    target = resolve_target(data_dir)
    overviews = run(target, _overviews(target.settings))
    if as_json:
        typer.echo(json.dumps([o.model_dump(mode="json") for o in overviews], indent=2))
    else:
        Console().print(status_table(overviews))


async def _overviews(settings: Settings) -> list[ProjectionOverview]:
    async with event_store(settings) as sessions, read_store(settings) as db:
        return [await overview(db, sessions, name) for name in PROJECTIONS]


def status_table(overviews: list[ProjectionOverview]) -> Table:
    table = Table(title="projections")
    table.add_column("name")
    table.add_column("state")
    table.add_column("checkpoint")
    table.add_column("lag events", justify="right")
    table.add_column("lag s", justify="right")
    table.add_column("generation", justify="right")
    table.add_column("rebuild")
    table.add_column("error")
    for o in overviews:
        table.add_row(
            o.name,
            Text(o.state.value, style=STATE_STYLE[o.state]),
            o.checkpoint,
            f"{o.lag_events:,}",
            f"{o.lag_seconds:.1f}",
            str(o.generation),
            _rebuild_cell(o),
            ""
            if o.error is None
            else f"{o.error.event_type} at {o.error.position}: {o.error.message}",
        )
    return table


def _rebuild_cell(o: ProjectionOverview) -> str:
    r = o.rebuild
    if r is None:
        return ""
    if r.phase is RebuildPhase.FAILED:
        return f"failed: {r.message or 'see the logs'}"
    if r.phase is RebuildPhase.DONE:
        return f"done: generation {r.generation}, {r.events_applied:,} events"
    share = r.events_applied / r.events_total if r.events_total else 0.0
    return f"{r.phase.value}: {r.events_applied:,}/{r.events_total:,} ({share:.0%})"


def _known(name: str) -> str:
    if name not in PROJECTIONS:
        raise typer.BadParameter(f"no projection {name!r}; there is {', '.join(PROJECTIONS)}")
    return name


@app.command()
def rebuild(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help=f"The projection: {', '.join(PROJECTIONS)}.", callback=_known
        ),
    ],
    from_scratch: Annotated[
        bool,
        typer.Option("--from-scratch", help="Start over instead of resuming an interrupted one."),
    ] = False,
    keep_old: Annotated[
        bool,
        typer.Option("--keep-old", help="Keep the replaced collections, for a rollback."),
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Replay every event into new collections, catch up, verify, and switch readers over.

    Runs here, in this process, beside the running projector; a rebuild that is stopped
    (Ctrl-C, a crash) resumes where it was when run again.
    """
    target = resolve_target(data_dir)
    try:
        outcome = run(target, _rebuild(target.settings, name, from_scratch, keep_old))
    except RebuildFailed as error:
        fail(f"rebuild of {name} failed; the live projection is as it was: {error}")
    except KeyboardInterrupt:
        fail(f"rebuild of {name} interrupted; run the same command to resume it", code=130)
    done = outcome.status
    this_run = summary(done.events_applied - outcome.resumed_at, "events", outcome.seconds)
    if outcome.resumed_at:
        resumed = f"resumed at {outcome.resumed_at:,}"
        this_run = f"{done.events_applied:,} events; {resumed}, this run {this_run}"
    typer.echo(f"rebuilt {name}: generation {done.generation}, {this_run}")
    old = outcome.replaced
    if old != done.collections:
        what = "kept, for a rollback" if keep_old else "dropped"
        typer.echo(f"the replaced collections {old.users}, {old.orders} are {what}")


@dataclass(frozen=True)
class Outcome:
    status: ProjectionStatus  # the rebuild's own, final status
    replaced: ReadCollections
    resumed_at: int  # events an interrupted run had applied already; 0 for a fresh rebuild
    seconds: float  # this run's, up to the switch


async def _rebuild(settings: Settings, name: str, from_scratch: bool, keep_old: bool) -> Outcome:
    async with (
        event_store(settings) as sessions,
        read_store(settings) as db,
        coordination(settings) as redis,
    ):
        # Redis is needed only for the switch, at the very end: better to learn now that it
        # is down than after the whole replay.
        await redis.ping()
        live = Projection(sessions, db, name, settings.projector_batch_size)
        before = await read_status(db, name)
        earlier = await _status(db, rebuild_name(name))
        # As `run_rebuild` decides: an unfinished rebuild is resumed unless told otherwise.
        unfinished = earlier is not None and earlier.phase in RESUMABLE
        resumed_at = earlier.events_applied if earlier and unfinished and not from_scratch else 0
        # On stderr: stdout keeps only the result, for whoever reads it after us.
        with progress_bar(Console(stderr=True), "events") as bar:
            updates = BarUpdates(bar, keep_old)
            watching = asyncio.create_task(updates.watch(db, rebuild_name(name)))
            try:
                done = await run_rebuild(
                    Rebuild(
                        projection=live,
                        redis=redis,
                        keep_old=keep_old,
                        lock_seconds=settings.projector_lock_seconds,
                    ),
                    from_scratch=from_scratch,
                    progress=updates,
                )
            finally:
                watching.cancel()
    seconds = (updates.switched_at or time.perf_counter()) - updates.started_at
    return Outcome(done, before.collections, resumed_at, seconds)


class BarUpdates:
    """The rebuild's progress, drawn as one bar."""

    def __init__(self, bar: Progress, keep_old: bool) -> None:
        self.bar = bar
        self.keep_old = keep_old
        # Shown at once; the first report (after the first batch) gives it its numbers.
        self.task: TaskID = bar.add_task("starting", total=None)
        self.reported = False
        self.started_at = time.perf_counter()
        self.switched_at: float | None = None

    async def __call__(self, status: ProjectionStatus) -> None:
        phase = status.phase or RebuildPhase.REPLAYING
        description = PHASE_TEXT[phase]
        if phase is RebuildPhase.DONE:
            self.switched_at = self.switched_at or time.perf_counter()
            if not self.keep_old:
                description += "; dropping the old collections in a moment"
        # New events keep arriving while it runs: the total counted at the start grows.
        total = max(status.events_total, status.events_applied)
        if not self.reported:
            # Counted from the first report on, so that a resumed rebuild's earlier events
            # do not inflate this run's rate.
            self.bar.reset(
                self.task,
                description=description,
                total=total,
                completed=status.events_applied,
                first=status.events_applied,
            )
            self.reported = True
        else:
            self.bar.update(
                self.task, description=description, total=total, completed=status.events_applied
            )

    async def watch(self, db: Database, name: str) -> None:
        """Reports come after each replayed batch only; the switch (the paused live
        projection's last events, the verification) would leave the bar still meanwhile."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                status = await _status(db, name)
            except PyMongoError:  # the rebuild meets the same fault and reports it
                continue
            # Only once the rebuild has reported: before that, the document may still be the
            # last rebuild's.
            if self.reported and status is not None:
                await self(status)


async def _status(db: Database, name: str) -> ProjectionStatus | None:
    raw = await db[STATUS].find_one({"_id": name})
    return None if raw is None else ProjectionStatus.model_validate(raw)
