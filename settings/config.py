from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TokenList = Annotated[frozenset[str], NoDecode]


class Settings(BaseSettings):
    """Configuration from the environment, with the same names in every service."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_db: str = "orders_es"

    # An empty set refuses every request: nothing is open by accident.
    write_tokens: TokenList = Field(default=frozenset(), repr=False)
    read_tokens: TokenList = Field(default=frozenset(), repr=False)
    admin_tokens: TokenList = Field(default=frozenset(), repr=False)

    # Browser origins allowed to call the APIs (comma-separated); none by default: CORS closed.
    cors_origins: TokenList = frozenset()

    command_api_port: int = 8000
    query_api_port: int = 8001

    # The arq queue the projector listens on; tests give each run its own.
    projector_queue: str = "arq:projector"
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    db_pool_size: int = Field(default=20, gt=0)
    db_timeout_seconds: float = Field(default=5.0, gt=0)
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    mongo_timeout_seconds: float = Field(default=2.0, gt=0)
    # How long the query API holds a read whose `Min-Position` the projection has not reached.
    min_position_wait_seconds: float = Field(default=3.0, ge=0, le=30)
    projector_batch_size: int = Field(default=500, gt=0, le=10_000)
    projector_metrics_port: int = 9100
    # Loopback by default; a container sets 0.0.0.0 so that Prometheus can reach it.
    projector_metrics_host: str = "127.0.0.1"
    # How often the projector looks for wake-ups in its queue (arq's default is 0.5 s), and so
    # how often at most a command API sends one: closer ones would reach it together.
    projector_poll_seconds: float = Field(default=0.02, gt=0, le=5)
    # A crashed projector's lock frees itself after this; a live one renews it every batch.
    projector_lock_seconds: float = Field(default=10.0, gt=0)
    # The arq timeout of one rebuild job (`POST /admin/projections/{name}/rebuild`): a rebuild
    # replays the whole feed, far longer than a catch-up.
    rebuild_timeout_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("write_tokens", "read_tokens", "admin_tokens", "cors_origins", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(token.strip() for token in value.split(",") if token.strip())
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
