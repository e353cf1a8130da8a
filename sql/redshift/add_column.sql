-- Schema evolution: one added (nullable) contract column.
alter table {{ target }} add column {{ column_definition }};
