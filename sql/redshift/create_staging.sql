-- Staging table of one load, shaped like the target plus the arrival order of each staged row.
create temp table {{ staging }} (like {{ target }});
alter table {{ staging }} add column {{ seq_column }} bigint;
