-- Dedup keys that occur more than once among the staged rows: 0 means the load is already unique by
-- key (what curate guarantees for the files of one run), so the de-duplication can be skipped.
select count(*) as duplicate_keys
from (
    select {{ dedup_keys }}
    from {{ staging }}
    group by {{ dedup_keys }}
    having count(*) > 1
) as repeated;
