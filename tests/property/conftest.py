"""Hypothesis budgets for the property tests: a few seconds in CI, far more with --full-size."""

import pytest
from hypothesis import HealthCheck, settings


@pytest.fixture(scope="session")
def property_settings(full_size: bool) -> settings:
    return settings(
        # Sequences of commands: each example is one random history of up to that many steps.
        max_examples=1_000 if full_size else 100,
        stateful_step_count=50 if full_size else 30,
        deadline=None,
        # No example database: a failure prints how to reproduce it instead.
        database=None,
        print_blob=True,
        # At the start only `register_user` can run: the other rules wait for ids in bundles.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
