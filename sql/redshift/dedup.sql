-- One row per key of the staged rows, chosen by the contract's de-duplication rule.
create temp table {{ deduped }} as
select {{ load_columns }}
from (
    select
        {{ load_columns }},
        row_number() over (partition by {{ dedup_keys }} order by {{ dedup_order }}) as airlake_rank
    from {{ staging }}
) as ranked
where airlake_rank = 1;
