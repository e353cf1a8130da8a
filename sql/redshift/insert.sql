-- append / partition_replace: insert the de-duplicated load.
insert into {{ target }} ({{ load_columns }})
select {{ load_columns }}
from {{ deduped }};
