"""HTTP load from wrk (Debian's package, installed when missing), driven by `wrk/load.lua`."""

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.turns import Sample, Turn

SCRIPT = Path(__file__).with_name("wrk") / "load.lua"
MARK = "BENCH_JSON "


class WrkError(Exception):
    pass


def ensure_installed() -> str:
    """wrk's path; installs Debian's package first when it is missing (the harness runs as
    root on the project's machines)."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    print("  installing wrk: apt-get install -y wrk", flush=True)
    if _apt("install", "-y", "-q", "wrk") != 0:  # perhaps no package lists yet
        _apt("update", "-q")
        _apt("install", "-y", "-q", "wrk")
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed and `apt-get install -y wrk` did not install it")
    return found


def _apt(*args: str) -> int:
    done = subprocess.run(
        ["apt-get", *args], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=False
    )
    return done.returncode


async def run_wrk(
    url: str,
    mode: str,
    *,
    connections: int,
    seconds: float,
    token: str = "",
    ids: Sequence[str] = (),
) -> Sample:
    """Load `url` with `connections` keep-alive connections for `seconds` (whole seconds, one
    at least). Errors are non-2xx/3xx answers plus socket errors and timeouts."""
    threads = max(1, min(2, connections, os.cpu_count() or 1))
    argv = [
        ensure_installed(),
        *("-t", str(threads), "-c", str(connections), "-d", f"{max(seconds, 1):.0f}s"),
        *("--timeout", "10s", "-s", str(SCRIPT), url),
    ]
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_TOKEN": token,
        "BENCH_IDS": ",".join(ids),
        "BENCH_RUN": uuid.uuid4().hex[:10],
    }
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await process.communicate()
    except BaseException:  # cancelled: not left loading servers that are being stopped
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace")
    lines = [line for line in text.splitlines() if line.startswith(MARK)]
    if process.returncode != 0 or not lines:
        raise WrkError(f"wrk failed ({process.returncode}):\n{text[-2000:]}")
    summary = json.loads(lines[-1].removeprefix(MARK))
    return Sample(
        operations=int(summary["requests"]),
        seconds=summary["duration_us"] / 1e6,
        errors=int(summary["status_errors"]) + int(summary["socket_errors"]),
        latencies_us={int(latency): int(count) for latency, count in summary["latencies_us"]},
    )


def wrk_turn(
    base_url: str, mode: str, *, connections: int, token: str = "", ids: Sequence[str] = ()
) -> Turn:
    """Turns of wrk against `base_url` (`bench.turns`)."""

    async def turn(seconds: float) -> Sample:
        return await run_wrk(
            base_url, mode, connections=connections, seconds=seconds, token=token, ids=ids
        )

    return turn
