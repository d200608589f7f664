"""`es_append` skips its unique-key statements when an append claims and releases nothing,
as most do: each was planned and run on an empty set, 4-6% of an append's throughput at
concurrency 8 (bench, issue 6). The checks and their errors are those of 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from importlib import import_module

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APPEND = """
CREATE OR REPLACE FUNCTION es_append(p_commit jsonb)
RETURNS TABLE (transaction_id xid8, event_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    w record;
    c record;
    found_stream jsonb;
BEGIN
    -- One global order of stream ids: two multi-stream writers never deadlock on each other.
    FOR w IN
        SELECT * FROM jsonb_to_recordset(p_commit->'writes') AS x(
            stream_id uuid, stream_type text, expected integer, version integer, close boolean)
        ORDER BY x.stream_id
    LOOP
        IF w.expected = 0 THEN
            INSERT INTO streams (stream_id, stream_type, version, deleted)
            VALUES (w.stream_id, w.stream_type, w.version, w.close)
            ON CONFLICT (stream_id) DO NOTHING;
        ELSE
            UPDATE streams s SET version = w.version, deleted = w.close
            WHERE s.stream_id = w.stream_id AND s.stream_type = w.stream_type
                AND s.version = w.expected AND NOT s.deleted;
        END IF;
        IF NOT FOUND THEN
            SELECT jsonb_build_object(
                'stream_id', w.stream_id, 'expected', w.expected,
                'same_type', s.stream_type = w.stream_type, 'version', s.version,
                'deleted', s.deleted)
            INTO found_stream
            FROM (SELECT 1) AS one LEFT JOIN streams s ON s.stream_id = w.stream_id;
            RAISE EXCEPTION 'stream % is not at version %', w.stream_id, w.expected
                USING ERRCODE = 'YS409', DETAIL = found_stream::text;
        END IF;
    END LOOP;

    -- Most appends claim and release nothing: they skip both statements.
    IF p_commit->'claims' <> '[]' THEN
        FOR c IN
            SELECT * FROM jsonb_to_recordset(p_commit->'claims')
                AS x(scope text, value text, stream_id uuid)
        LOOP
            -- A stream may claim again what it holds; of concurrent claims of one value,
            -- the later ones wait for the first and then find it taken.
            INSERT INTO unique_keys AS u (scope, value, stream_id)
            VALUES (c.scope, c.value, c.stream_id)
            ON CONFLICT (scope, value) DO UPDATE SET stream_id = excluded.stream_id
                WHERE u.stream_id = excluded.stream_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the % is taken', c.scope
                    USING ERRCODE = 'YU409', DETAIL = c.scope;
            END IF;
        END LOOP;
    END IF;

    IF p_commit->'releases' <> '[]' THEN
        DELETE FROM unique_keys u
        USING jsonb_to_recordset(p_commit->'releases')
            AS x(scope text, value text, stream_id uuid)
        WHERE u.scope = x.scope AND u.value = x.value AND u.stream_id = x.stream_id;
    END IF;

    RETURN QUERY
    INSERT INTO events AS e
        (stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata)
    SELECT x.stream_id, x.stream_type, x.version, x.event_id, x.event_type, x.schema_version,
        x.data, x.metadata
    FROM ROWS FROM (jsonb_to_recordset(p_commit->'events') AS (
        stream_id uuid, stream_type text, version integer, event_id uuid, event_type text,
        schema_version smallint, data jsonb, metadata jsonb)) WITH ORDINALITY AS x(
        stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata,
        n)
    ORDER BY x.n
    RETURNING e.transaction_id, e.position;
END
$$
"""


def upgrade() -> None:
    op.execute(APPEND)


def downgrade() -> None:
    before: str = import_module("eventstore.migrations.versions.0002_append_function").APPEND
    op.execute(before.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
