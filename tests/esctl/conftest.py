"""A whole write side and a projection of their own for the CLI's tests (see
`tests/projector/conftest.py`, whose fixtures are not visible here)."""

from collections.abc import AsyncIterator, Iterator

import pytest

from settings import Settings
from tests.projector.conftest import Stack, build_stack, stack_settings
from tests.support.databases import migrated_database
from tests.support.mongo import MongoServer


@pytest.fixture
def es_database() -> Iterator[str]:
    with migrated_database("es_cli") as url:
        yield url


@pytest.fixture
async def stack(
    es_database: str, mongo_server: MongoServer, settings: Settings
) -> AsyncIterator[Stack]:
    async with build_stack(stack_settings(es_database, mongo_server, settings)) as built:
        yield built
