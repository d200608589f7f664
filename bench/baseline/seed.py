"""The baseline's rows for the read scenario, written straight through its ORM models."""

import uuid
from decimal import Decimal

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench.baseline.models import Base, Order, User


def seed(database_url: str, users: int, orders: int) -> list[str]:
    """`users` users with `orders` orders each; their ids. Blocking: call it in a thread."""
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    ids: list[str] = []
    try:
        with Session(engine) as session:
            for n in range(users):
                user = User(name=f"User {n}", email=f"u-{uuid.uuid4().hex[:16]}@example.com")
                user.orders = [
                    Order(
                        product=f"Item {k}",
                        quantity=1 + k % 5,
                        unit_price=Decimal(f"{(n + k) % 50}.25"),
                        status="cancelled" if k % 3 == 2 else "open",
                    )
                    for k in range(orders)
                ]
                session.add(user)
                session.flush()
                ids.append(str(user.id))
            session.commit()
    finally:
        engine.dispose()
    return ids
