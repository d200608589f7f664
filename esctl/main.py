"""`esctl`: the operator's command line."""

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from esctl.tokens import resolve_tokens
from eventstore.migrate import upgrade
from settings import Settings, get_settings

app = typer.Typer(help="Run and operate the event-sourced orders service.", no_args_is_help=True)

DataDir = Annotated[Path, typer.Option(help="Where the dev stack keeps its tokens and data.")]


@app.command()
def migrate() -> None:
    """Bring the event store's schema (at DATABASE_URL) to the newest migration."""
    upgrade(get_settings().database_url)
    typer.echo("event store schema is up to date")


@app.command()
def up(data_dir: DataDir = Path(".esdata")) -> None:
    """Migrate, then serve the command API in the foreground (Ctrl-C stops it)."""
    tokens = resolve_tokens(data_dir)
    settings = Settings()
    upgrade(settings.database_url)
    url = f"http://127.0.0.1:{settings.command_api_port}"
    typer.echo(
        f"command API  {url}  (docs at {url}/docs)\n"
        f"write token  {tokens['WRITE_TOKENS']}\n"
        f"read token   {tokens['READ_TOKENS']}\n"
        f"admin token  {tokens['ADMIN_TOKENS']}\n"
        f"try:\n  curl -si -X POST {url}/users -H 'Authorization: Bearer "
        f"{tokens['WRITE_TOKENS']}' -H 'Content-Type: application/json' "
        """-d '{"name": "Ada", "email": "ada@example.com"}'\n"""
    )
    from command_api.app import create_app

    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=settings.command_api_port,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    app()
