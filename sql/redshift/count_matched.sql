-- Rows of the de-duplicated load whose key already exists in the target (they will be updated).
select count(*) as matched_rows
from {{ deduped }} as src
inner join {{ target }} as tgt on {{ key_condition }};
