-- Warehouse target table of a dataset, created from its contract (idempotent).
-- table_elements: column definitions and the primary key, comma separated.
-- table_options: empty on PostgreSQL; diststyle / distkey / sortkey on Redshift.
create table if not exists {{ target }} (
    {{ table_elements }}
){{ " " ~ table_options if table_options }};
