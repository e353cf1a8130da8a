-- One added column: a new nullable contract column (schema evolution) or the staging arrival order.
alter table {{ target }} add column {{ column_definition }};
