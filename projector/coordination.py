"""The Redis keys through which a projection's workers take turns (see `worker`).

Each takes the projection's `scope` (its database and name), so that stacks sharing a Redis never
wait for each other's locks.
"""


def lock_key(scope: str) -> str:
    """Held by whoever applies events to the projection: one catch-up at a time, or a
    rebuild switching collections."""
    return f"projection:{scope}:lock"


def pending_key(scope: str) -> str:
    """Set by a wake-up that found the lock taken: the holder runs once more before it lets go."""
    return f"projection:{scope}:pending"


def pause_key(scope: str) -> str:
    """Set, with a time to live, while a rebuild switches collections: catch-ups step aside
    (leaving their wake-up pending) so that the rebuild can take the lock."""
    return f"projection:{scope}:paused"
