import gc
from collections.abc import Iterator

import pytest

from projector.collector import FewerCollections

DEFAULT = (700, 10, 10)


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*DEFAULT)
    yield
    gc.set_threshold(*saved)


def test_the_youngest_threshold_is_raised_while_held_and_put_back_after() -> None:
    fewer = FewerCollections(50_000)
    with fewer:
        assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_threshold() == DEFAULT


def test_a_higher_threshold_set_before_is_not_lowered() -> None:
    gc.set_threshold(100_000, 10, 10)
    with FewerCollections(50_000):
        assert gc.get_threshold() == (100_000, 10, 10)
    assert gc.get_threshold() == (100_000, 10, 10)


def test_overlapping_holders_put_it_back_when_the_last_lets_go() -> None:
    """Two replays in one worker, the first ending while the second runs."""
    fewer = FewerCollections(50_000)
    fewer.__enter__()
    fewer.__enter__()
    fewer.__exit__(None, None, None)
    assert gc.get_threshold() == (50_000, 10, 10)
    fewer.__exit__(None, None, None)
    assert gc.get_threshold() == DEFAULT


def test_it_is_put_back_when_the_work_fails() -> None:
    with pytest.raises(RuntimeError), FewerCollections(50_000):
        raise RuntimeError("the replay failed")
    assert gc.get_threshold() == DEFAULT
