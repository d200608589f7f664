"""A child process's memory as Linux accounts it (`/proc/<pid>/status`), with no dependency.

The peak is the kernel's own high-water mark (VmHWM), which sampling could miss between two
looks; it can be reset to the current size, so that a long-running process's peak covers
only the work of interest.
"""

from pathlib import Path

MB = 1024 * 1024


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])  # "  123456 kB"
    raise LookupError(f"no {field} for pid {pid}")


def rss_mb(pid: int) -> float:
    """Resident memory now."""
    return _status_kb(pid, "VmRSS") * 1024 / MB


def peak_rss_mb(pid: int) -> float:
    """The highest resident memory since the process started or `reset_peak`."""
    return _status_kb(pid, "VmHWM") * 1024 / MB


def reset_peak(pid: int) -> None:
    """Bring the peak down to the current resident memory (Linux 4.0 and later)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
