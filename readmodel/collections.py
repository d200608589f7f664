"""Collection names, and the indexes behind every query the query API serves."""

from dataclasses import dataclass

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

STATUS = "projections"


@dataclass(frozen=True)
class ReadCollections:
    """Where one generation of the documents lives. A rebuild writes the next generation into
    new collections, and the projection's status document says which generation is live."""

    users: str = "users"
    orders: str = "orders"

    @classmethod
    def of_generation(cls, generation: int) -> "ReadCollections":
        if generation == 0:
            return cls()
        return cls(users=f"users_{generation}", orders=f"orders_{generation}")


LIVE = ReadCollections()

USER_INDEXES = [
    # GET /users: live users, paged by _id; and ?email= (case-insensitive, via email_key).
    IndexModel([("deleted", ASCENDING), ("_id", ASCENDING)], name="live_by_id"),
    IndexModel([("email_key", ASCENDING)], name="email_key"),
    # ?name_prefix=: an anchored prefix match on name, then paged by _id.
    IndexModel(
        [("deleted", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)], name="live_by_name"
    ),
]
ORDER_INDEXES = [
    # GET /orders?user_id=&status= and GET /users/{id}/orders, paged by _id.
    IndexModel([("user_id", ASCENDING), ("_id", ASCENDING)], name="by_user"),
    IndexModel([("status", ASCENDING), ("_id", ASCENDING)], name="by_status"),
    IndexModel(
        [("user_id", ASCENDING), ("status", ASCENDING), ("_id", ASCENDING)], name="by_user_status"
    ),
]


async def ensure_indexes(
    db: AsyncDatabase[dict[str, object]], names: ReadCollections = LIVE
) -> None:
    """Idempotent; every service calls it at start-up, and the projector before its first write.

    Writers must wait for it: SecantusDB (the local MongoDB stand-in) can hang when a write
    creates a collection while an index build on that collection is under way.
    """
    await db[names.users].create_indexes(USER_INDEXES)
    await db[names.orders].create_indexes(ORDER_INDEXES)
