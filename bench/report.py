"""The run's figures as a markdown table and as a JSON file."""

import json
import math
import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import Figure, Ratio, Reading, Results
from bench.sizes import Sizes

MARK = {None: "", True: " ✓", False: " ✗"}


def _ms(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.1f}"


def markdown(results: Results) -> str:
    lines = [
        "| scenario | subject | concurrency | throughput | p50 ms | p99 ms | max ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for figure in results.figures:
        lines.append(
            f"| {figure.scenario} | {figure.subject} | {figure.concurrency} "
            f"| {figure.rate:,.0f} {figure.unit}/s | {_ms(figure.p50_ms)} "
            f"| {_ms(figure.p99_ms)} | {_ms(figure.max_ms)} | {figure.errors} |"
        )
    if results.ratios:
        lines += ["", "| ratio | of | value | target |", "| --- | --- | ---: | ---: |"]
        for ratio in results.ratios:
            bound = "≤" if ratio.at_most else "≥"
            target = "" if ratio.target is None else f"{bound} {ratio.target:g}x"
            lines.append(
                f"| {ratio.name} | {ratio.of} | {ratio.value:.2f}x{MARK[ratio.met]} | {target} |"
            )
    if results.readings:
        lines += ["", "| reading | value | target |", "| --- | ---: | ---: |"]
        for reading in results.readings:
            unit = reading.unit
            target = "" if reading.at_most is None else f"≤ {reading.at_most:g} {unit}"
            lines.append(
                f"| {reading.scenario}: {reading.name} "
                f"| {reading.value:,.1f} {unit}{MARK[reading.met]} | {target} |"
            )
    for name, why in results.failed.items():
        lines.append(f"\n**{name} failed**: {why}")
    return "\n".join(lines)


def _figure(figure: Figure) -> dict[str, Any]:
    return {
        "key": figure.key,
        "scenario": figure.scenario,
        "subject": figure.subject,
        "concurrency": figure.concurrency,
        "operations": figure.operations,
        "seconds": round(figure.seconds, 4),
        "throughput": round(figure.rate, 2),
        "unit": f"{figure.unit}/s",
        "p50_ms": _number(figure.p50_ms),
        "p99_ms": _number(figure.p99_ms),
        "max_ms": _number(figure.max_ms),
        "errors": figure.errors,
        "note": figure.note,
    }


def _ratio(ratio: Ratio) -> dict[str, Any]:
    return {
        "name": ratio.name,
        "subject": ratio.subject,
        "baseline": ratio.baseline,
        "value": _number(ratio.value),
        "of": ratio.of,
        "target": ratio.target,
        "bound": "at most" if ratio.at_most else "at least",
        "met": ratio.met,
    }


def _reading(reading: Reading) -> dict[str, Any]:
    return {
        "scenario": reading.scenario,
        "name": reading.name,
        "value": _number(reading.value),
        "unit": reading.unit,
        "at_most": reading.at_most,
        "met": reading.met,
        "note": reading.note,
    }


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 3)


def write_json(
    results: Results,
    path: Path,
    *,
    sizes: Sizes,
    quick: bool,
    scenarios: list[str],
    embedded: list[str],
) -> None:
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "sizes": asdict(sizes),
        "scenarios": scenarios,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": list(os.getloadavg()),
        },
        "embedded_stores": embedded,
        "figures": [_figure(figure) for figure in results.figures],
        "ratios": [_ratio(ratio) for ratio in results.ratios],
        "readings": [_reading(reading) for reading in results.readings],
        "failed": results.failed,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
