"""The CLI's tests run on the projector's stack: a write side and a projection of their own."""

from tests.projector.conftest import es_database, stack

__all__ = ["es_database", "stack"]
