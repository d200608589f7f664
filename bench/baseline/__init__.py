"""The baseline the APIs are compared with: a FastAPI app written the way most FastAPI
tutorials and templates write CRUD, synchronous SQLAlchemy ORM on the same PostgreSQL."""
