import gc
from collections.abc import Iterator

import pytest

from web.heap import THRESHOLDS, FewerCollections

DEFAULT = (700, 10, 10)
RAISED = (THRESHOLDS[0], 10, 10)


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*DEFAULT)
    yield
    gc.set_threshold(*saved)


def test_the_young_threshold_is_raised_while_held_and_put_back_after() -> None:
    with FewerCollections():
        assert gc.get_threshold() == RAISED
    assert gc.get_threshold() == DEFAULT


def test_a_higher_threshold_set_before_is_not_lowered() -> None:
    higher = (THRESHOLDS[0] * 5, 10, 10)
    gc.set_threshold(*higher)
    with FewerCollections():
        assert gc.get_threshold() == higher
    assert gc.get_threshold() == higher


def test_overlapping_holders_put_it_back_when_the_last_lets_go() -> None:
    """Two replays in one worker, the first ending while the second runs."""
    fewer = FewerCollections()
    fewer.__enter__()
    fewer.__enter__()
    fewer.__exit__(None, None, None)
    assert gc.get_threshold() == RAISED
    fewer.__exit__(None, None, None)
    assert gc.get_threshold() == DEFAULT


def test_a_threshold_set_by_someone_else_meanwhile_stands() -> None:
    """Another part of the process tuning the collector while a replay runs."""
    theirs = (THRESHOLDS[0] * 2, 10, 10)
    with FewerCollections():
        gc.set_threshold(*theirs)
    assert gc.get_threshold() == theirs


def test_it_is_put_back_when_the_work_fails() -> None:
    with pytest.raises(RuntimeError), FewerCollections():
        raise RuntimeError("the replay failed")
    assert gc.get_threshold() == DEFAULT
