"""`python -m bench [--quick] [--only SCENARIO ...] [--out PATH]`: run, print, write JSON."""

import asyncio
import signal
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from bench.context import Context
from bench.measure import Results
from bench.report import markdown, write_json
from bench.scenarios import append, command, freshness, growth, projection, query
from bench.sizes import FULL, QUICK, Sizes
from bench.stores import Stores, run_folder

# In the order of priority.
SCENARIOS: dict[str, Callable[[Context], Awaitable[None]]] = {
    "append": append.run,
    "command": command.run,
    "query": query.run,
    "projection": projection.run,
    "freshness": freshness.run,
    "growth": growth.run,
}

cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    quick: Annotated[
        bool, typer.Option("--quick", help="tiny sizes and second-long runs: a smoke test")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"run only these scenarios: {', '.join(SCENARIOS)}"),
    ] = None,
    rebuild_events: Annotated[
        int | None,
        typer.Option(
            help="events to rebuild in the projection and growth scenarios "
            "(default 100,000; quick 1,000)"
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="where to write every figure as JSON")] = Path(
        "bench/results.json"
    ),
) -> None:
    chosen = only or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        raise typer.BadParameter(f"unknown scenario(s) {sorted(unknown)}", param_hint="--only")
    sizes = QUICK if quick else FULL
    if rebuild_events is not None:
        sizes = replace(sizes, rebuild_events=rebuild_events)
    try:
        results, embedded = asyncio.run(_run(chosen, sizes))
    except asyncio.CancelledError:  # SIGTERM, after the clean-up
        print("stopped: the servers it started are stopped, its databases dropped")
        raise typer.Exit(128 + signal.SIGTERM) from None
    print()
    print(markdown(results))
    write_json(results, out, sizes=sizes, quick=quick, scenarios=chosen, embedded=embedded)
    print(f"\nwritten to {out}")
    if results.failed:
        print(f"failed: {', '.join(results.failed)}")
        raise typer.Exit(1)


async def _run(chosen: list[str], sizes: Sizes) -> tuple[Results, list[str]]:
    # SIGTERM cancels the run as Ctrl-C does, so that the servers it started and the databases
    # it made go with it: killed outright, it left an embedded SecantusDB running.
    running = asyncio.current_task()
    assert running is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, running.cancel)
    stores = Stores(run_folder())
    results = Results()
    try:
        await stores.start()
        context = Context(stores, sizes, results)
        for name in chosen:
            print(f"{name}:", flush=True)
            try:
                await SCENARIOS[name](context)
            except Exception as error:  # the other scenarios' figures are still worth having
                traceback.print_exc()
                results.failed[name] = f"{type(error).__name__}: {error}"[:500]
            try:
                await stores.drop_made()
            except Exception:  # left for the clean-up at the end; the next scenario still runs
                traceback.print_exc()
    finally:
        # Ignored from here: cancelled, the clean-up would leave databases behind.
        loop.add_signal_handler(signal.SIGTERM, lambda: None)
        await stores.stop()
    return results, stores.embedded


if __name__ == "__main__":
    cli()
