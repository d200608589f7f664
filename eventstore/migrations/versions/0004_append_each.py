"""`es_append_each`: the appends of a group (`eventstore.group`), each in a subtransaction of
its own, so that a refused one is reported and the others still commit together.

A group's appends are first sent as one plain statement, which is cheaper: a subtransaction
each cost about 12% of a group's throughput. Only a group that statement refused (one
append's check failed, so nothing committed) is sent again through this function, instead of
as one transaction per append. A refusal comes back as a row with the SQLSTATE and DETAIL
`es_append` raised; any other error still fails the whole statement.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_EACH = """
CREATE FUNCTION es_append_each(p_commits jsonb[])
RETURNS TABLE (n integer, transaction_id xid8, event_position bigint, refusal text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    ids xid8[];
    positions bigint[];
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_commits, 1), 0) LOOP
        BEGIN
            SELECT array_agg(a.transaction_id), array_agg(a.event_position)
            INTO ids, positions
            FROM es_append(p_commits[i]) AS a;
        EXCEPTION WHEN SQLSTATE 'YS409' OR SQLSTATE 'YU409' THEN
            n := i;
            transaction_id := NULL;
            event_position := NULL;
            GET STACKED DIAGNOSTICS refusal = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
            RETURN NEXT;
            CONTINUE;
        END;
        RETURN QUERY SELECT i, u.id, u.position, NULL::text, NULL::text
            FROM unnest(ids, positions) AS u(id, position);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.execute(APPEND_EACH)


def downgrade() -> None:
    op.execute("DROP FUNCTION es_append_each(jsonb[])")
