"""The progress bar of `esctl`'s long work (rebuild, seed): done / total, rate, ETA."""

from datetime import timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


def rate(task: Task) -> float | None:
    """Items per second: rich's recent rate, or else this run's average.

    A rebuild reports once per batch of thousands of events, which can be far apart: too
    few samples for rich's own estimate, which would then show nothing at all.
    """
    speed = task.finished_speed or task.speed
    if speed is None and task.elapsed:
        # `first`: where the task began, so that a resumed rebuild's earlier events do not count.
        speed = (task.completed - float(task.fields.get("first", 0))) / task.elapsed
    return speed or None


class RateColumn(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = rate(task)
        shown = "?" if speed is None else f"{speed:,.0f}"
        return Text(f"{shown} {self.unit}/s", style="progress.data.speed")


class EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = rate(task)
        if task.finished:
            left = "0:00:00"
        elif speed is None or task.remaining is None:
            left = "-:--:--"
        else:
            left = str(timedelta(seconds=int(task.remaining / speed)))
        return Text(f"ETA {left}", style="progress.remaining")


def progress_bar(console: Console, unit: str) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        RateColumn(unit),
        TimeElapsedColumn(),
        EtaColumn(),
        console=console,
    )


def summary(count: int, unit: str, seconds: float) -> str:
    """'12,345 events in 3.21 s (3,846 events/s)'"""
    per_second = count / seconds if seconds > 0 else 0.0
    return f"{count:,} {unit} in {seconds:.2f} s ({per_second:,.0f} {unit}/s)"
