# One image for command_api, query_api, projector and the one-shot migration;
# docker-compose.yml gives each service its command.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
# Bytecode is compiled once here, so the read-only runtime never needs to write it; the venv
# uses the base image's Python, the same one the runtime stage has.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies first, in a layer of their own: it is rebuilt only when the lock changes,
# not on every edit to the source.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself, installed (not editable) into the same venv, so the runtime stage
# needs the venv alone.
COPY . .
RUN uv sync --frozen --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH="/app/.venv/bin:${PATH}"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
# Owned by root and only readable by the service user: a compromised process cannot rewrite
# its own code.
COPY --from=build /app/.venv /app/.venv
USER app:app
EXPOSE 8000 8001
CMD ["uvicorn", "--factory", "command_api.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
