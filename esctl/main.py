"""`esctl`: the operator's command line."""

import asyncio
import logging
import sys
from typing import Annotated

import structlog
import typer

from esctl import events, projections
from esctl.connect import DEFAULT_DATA_DIR, UNREACHABLE, DataDir, fail, resolve_target
from esctl.seed import seed
from esctl.stores import redact
from esctl.up import UpOptions, run_up
from eventstore.migrate import upgrade

app = typer.Typer(help="Run and operate the event-sourced orders service.", no_args_is_help=True)
app.add_typer(projections.app, name="projections")
app.add_typer(events.app, name="events")
app.command()(seed)


@app.callback()
def main() -> None:
    # The code the commands run (a rebuild, say) logs through structlog. Left unconfigured,
    # it would print every info line to stdout, through the progress bar and into output
    # meant for scripts; a host that configured logging already keeps its own choice.
    if not structlog.is_configured():
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        )


@app.command()
def migrate(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Bring the event store's schema to the newest migration."""
    target = resolve_target(data_dir)
    url = target.settings.database_url
    try:
        upgrade(url)
    except UNREACHABLE as error:
        fail(f"cannot migrate {url}: {type(error).__name__}: {error}")
    typer.echo(f"event store schema at {redact(url)} is up to date")


@app.command()
def up(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    embedded: Annotated[
        bool, typer.Option("--embedded", help="Start embedded servers even if others answer.")
    ] = False,
) -> None:
    """Run the whole stack in the foreground: stores, migrations, APIs, projector.

    Each store's URL (DATABASE_URL, REDIS_URL, MONGODB_URL) is used when it answers; an unset
    one whose default does not answer gets an embedded server with its data in the data
    folder. Ctrl-C stops everything.
    """
    raise typer.Exit(asyncio.run(run_up(UpOptions(data_dir=data_dir, embedded=embedded))))


if __name__ == "__main__":
    app()
