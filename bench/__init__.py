"""Benchmarks of the event store, the two APIs and the projector, each beside its baselines
in the same run (issue 6). Run with `uv run --group bench python -m bench`; see README.md."""
