"""The baseline CRUD app: a session per request through `Depends`, commit and refresh, sync
routes in FastAPI's thread pool, the engine's default pool. No auth, no events, no outbox.

Run with `uvicorn --factory bench.baseline.app:create_app`, `BASELINE_DATABASE_URL` set to a
`postgresql+psycopg://` URL.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from bench.baseline.models import Base, Order, User


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr


class OrderCreate(BaseModel):
    product: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(gt=0, max_digits=12, decimal_places=2)


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    product: str
    quantity: int
    unit_price: Decimal
    status: str
    created_at: datetime


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    email: str
    created_at: datetime


class UserWithOrders(UserRead):
    orders: list[OrderRead]
    order_count: int
    total_spent: Decimal


def create_app() -> FastAPI:
    engine = create_engine(os.environ["BASELINE_DATABASE_URL"])
    Base.metadata.create_all(engine)
    session_factory = sessionmaker(engine)

    def get_db() -> Iterator[Session]:
        with session_factory() as session:
            yield session

    SessionDep = Annotated[Session, Depends(get_db)]  # noqa: N806 (a type alias)
    app = FastAPI(title="Baseline CRUD")

    @app.post("/users", status_code=status.HTTP_201_CREATED)
    def create_user(body: UserCreate, db: SessionDep) -> UserRead:
        if db.scalar(select(User).where(User.email == body.email)) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, "email already registered")
        user = User(name=body.name, email=body.email)
        db.add(user)
        db.commit()
        db.refresh(user)
        return UserRead.model_validate(user)

    @app.post("/users/{user_id}/orders", status_code=status.HTTP_201_CREATED)
    def create_order(user_id: uuid.UUID, body: OrderCreate, db: SessionDep) -> OrderRead:
        if db.get(User, user_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "user not found")
        order = Order(user_id=user_id, **body.model_dump())
        db.add(order)
        db.commit()
        db.refresh(order)
        return OrderRead.model_validate(order)

    @app.get("/users/{user_id}")
    def read_user(user_id: uuid.UUID, db: SessionDep) -> UserWithOrders:
        user = db.scalars(
            select(User).options(joinedload(User.orders)).where(User.id == user_id)
        ).first()
        if user is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "user not found")
        live = [order for order in user.orders if order.status != "cancelled"]
        return UserWithOrders(
            **UserRead.model_validate(user).model_dump(),
            orders=[OrderRead.model_validate(order) for order in user.orders],
            order_count=len(live),
            total_spent=sum((o.unit_price * o.quantity for o in live), Decimal("0.00")),
        )

    return app
