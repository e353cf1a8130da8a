-- Staging table of one load, shaped like the target (its arrival-order column is added by add_column.sql).
create temp table {{ staging }} (like {{ target }});
