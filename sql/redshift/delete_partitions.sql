-- partition_replace: remove the target rows of every event date present in the load.
delete from {{ target }}
where {{ event_date }} in (
    select distinct {{ event_date }}
    from {{ deduped }}
);
