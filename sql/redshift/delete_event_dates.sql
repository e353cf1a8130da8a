-- partition_replace loaded straight into the target: remove the target rows of the load's event dates
-- (listed as date literals, read from the load's files before the COPY).
delete from {{ target }}
where {{ event_date }} in ({{ event_dates }});
