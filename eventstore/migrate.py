from alembic import command
from alembic.config import Config


def upgrade(database_url: str) -> None:
    """Bring the schema at `database_url` to the newest migration. Call it outside an event loop."""
    config = Config()
    config.set_main_option("script_location", "eventstore:migrations")
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")
