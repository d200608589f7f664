"""The Redis keys through which a projection's workers take turns (see `worker`)."""


def lock_key(projection: str) -> str:
    """Held by whoever applies events to the projection: one catch-up at a time, or a
    rebuild switching collections."""
    return f"projection:{projection}:lock"


def pending_key(projection: str) -> str:
    """Set by a wake-up that found the lock taken: the holder runs once more before it lets go."""
    return f"projection:{projection}:pending"


def pause_key(projection: str) -> str:
    """Set, with a time to live, while a rebuild switches collections: catch-ups step aside
    (leaving their wake-up pending) so that the rebuild can take the lock."""
    return f"projection:{projection}:paused"
