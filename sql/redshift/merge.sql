-- Upsert of the de-duplicated load into the target on the warehouse keys.
merge into {{ target }} as tgt
using {{ deduped }} as src
    on {{ key_condition }}
when matched then update set {{ update_assignments }}
when not matched then insert ({{ load_columns }}) values ({{ source_columns }});
