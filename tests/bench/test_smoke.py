"""The benchmark harness still runs: `python -m bench --quick`, scenarios 1 and 6, and its
JSON holds every figure. No targets are checked; tiny sizes say nothing about performance.
A run stopped by SIGTERM leaves nothing behind.

Skipped unless `--full-size` is passed or RUN_BENCH_SMOKE=1 is set, so CI (which passes
neither) skips it: it takes a minute and installs the `bench` dependency group.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def wanted(full_size: bool) -> None:
    if not (full_size or os.environ.get("RUN_BENCH_SMOKE") == "1"):
        pytest.skip("the benchmark smoke runs with --full-size or RUN_BENCH_SMOKE=1")


def run_bench(out: Path, *scenarios: str) -> dict[str, Any]:
    uv = shutil.which("uv")
    python = [uv, "run", "--group", "bench", "python"] if uv else [sys.executable]
    only = [arg for scenario in scenarios for arg in ("--only", scenario)]
    finished = subprocess.run(
        [*python, "-m", "bench", "--quick", *only, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    for scenario in scenarios:  # the printed table, one row at least
        assert f"| {scenario} |" in finished.stdout
    document = json.loads(out.read_text())
    assert isinstance(document, dict)
    return document


@pytest.mark.usefixtures("wanted")
def test_the_quick_append_run_reports_every_figure(tmp_path: Path) -> None:
    document = run_bench(tmp_path / "results.json", "append")

    assert document["machine"]["cpu_count"] == os.cpu_count()
    figures = {figure["key"]: figure for figure in document["figures"]}
    expected = {
        f"append/{subject}/c{concurrency}"
        for subject in (
            "eventstore.append_alone",
            "eventstore.append in a session",
            "raw asyncpg INSERT",
        )
        for concurrency in (1, 8, 32)
    } | {"append/eventsourcing library/c8"}
    assert expected == set(figures)
    for figure in figures.values():
        assert figure["operations"] > 0, figure
        assert figure["throughput"] > 0, figure
        assert 0 < figure["p50_ms"] <= figure["p99_ms"] <= figure["max_ms"], figure
        assert figure["errors"] == 0, figure
    ratios = {ratio["name"]: ratio for ratio in document["ratios"]}
    assert set(ratios) == {
        "append c1 / raw INSERT",
        "append c8 / raw INSERT",
        "append c32 / raw INSERT",
        "append c8 / eventsourcing",
    }
    assert all(ratio["value"] > 0 for ratio in ratios.values())


@pytest.mark.usefixtures("wanted")
def test_the_quick_growth_run_reports_both_sizes_and_the_peak_memory(tmp_path: Path) -> None:
    document = run_bench(tmp_path / "results.json", "growth")

    figures = {figure["key"]: figure for figure in document["figures"]}
    assert set(figures) == {
        f"growth/{subject} at {size} events/c{concurrency}"
        for size in ("1,000", "10,000")
        for subject, concurrency in (
            ("read_feed_page", 1),
            ("eventstore.append_alone", 1),
            ("eventstore.append_alone", 8),
        )
    }
    for figure in figures.values():
        assert figure["operations"] > 0, figure
        assert 0 < figure["p50_ms"] <= figure["p99_ms"] <= figure["max_ms"], figure
    ratios = {ratio["name"]: ratio for ratio in document["ratios"]}
    assert ratios["append c8 at 10,000 / at 1,000 events"]["of"] == "p50"
    assert ratios["append c8 at 10,000 / at 1,000 events"]["bound"] == "at most"
    assert ratios["feed read at 10,000 / at 1,000 events"]["value"] > 0
    [peak] = document["readings"]
    assert peak["unit"] == "MB"
    assert peak["at_most"] == 250
    assert 20 < peak["value"] < 2000, peak  # a Python process, measured at all


@pytest.mark.usefixtures("wanted")
def test_a_run_stopped_by_sigterm_stops_what_it_started(tmp_path: Path) -> None:
    """Its embedded servers, databases and folder go with it, as with Ctrl-C."""
    folders = Path(tempfile.gettempdir())
    before = set(folders.glob("orders-es-bench-*"))
    out = tmp_path / "results.json"
    run = subprocess.Popen(
        [sys.executable, "-m", "bench", "--quick", "--only", "append", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read_output() -> None:  # in a thread, so that waiting for a line can time out
        for line in run.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read_output)
    reader.start()
    read: list[str] = []
    while not read or not read[-1].startswith("  append/"):  # measuring: its stores are up
        try:
            read.append(lines.get(timeout=120))
        except queue.Empty:
            run.kill()
            pytest.fail("no figure within 120 s:\n" + "".join(read)[-3000:])
    [folder] = set(folders.glob("orders-es-bench-*")) - before
    servers = _processes_mentioning(str(folder))
    assert servers, "the run's embedded servers should be up by now"

    run.send_signal(signal.SIGTERM)
    run.wait(timeout=120)
    reader.join()
    output = "".join(read) + "".join(lines.queue)

    assert run.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert not folder.exists()
    assert not _processes_mentioning(str(folder)), output[-3000:]
    assert not out.exists()


def _processes_mentioning(text: str) -> list[int]:
    """The processes whose command line holds `text`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:  # gone meanwhile
            continue
    return found
