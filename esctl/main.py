"""`esctl`: the operator's command line."""

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from esctl.up import UpOptions, run_up
from eventstore.migrate import upgrade
from settings import get_settings

app = typer.Typer(help="Run and operate the event-sourced orders service.", no_args_is_help=True)

DataDir = Annotated[Path, typer.Option(help="Where the dev stack keeps its tokens and data.")]


@app.command()
def migrate() -> None:
    """Bring the event store's schema (at DATABASE_URL) to the newest migration."""
    upgrade(get_settings().database_url)
    typer.echo("event store schema is up to date")


@app.command()
def up(
    data_dir: DataDir = Path(".esdata"),
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
