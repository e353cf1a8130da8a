-- Shopping funnel of {{ ds }} from the clickstream: sessions reaching each step, and conversion
-- (sessions with a purchase / sessions with a product view). Every computed column is cast to its
-- declared type: the view table's Glue types (on Athena and locally) are these.
with session_steps as (
    select
        dt,
        session_id,
        max(case when event_type = 'product_view' then 1 else 0 end) as viewed,
        max(case when event_type = 'add_to_cart' then 1 else 0 end) as added,
        max(case when event_type = 'checkout' then 1 else 0 end) as checked_out,
        max(case when event_type = 'purchase' then 1 else 0 end) as purchased
    from clickstream
    where dt = '{{ ds }}'
    group by dt, session_id
)

select
    dt,
    cast(count(*) as bigint) as sessions,
    cast(sum(viewed) as bigint) as product_view_sessions,
    cast(sum(added) as bigint) as add_to_cart_sessions,
    cast(sum(checked_out) as bigint) as checkout_sessions,
    cast(sum(purchased) as bigint) as purchase_sessions,
    cast(cast(sum(purchased) as double) / nullif(sum(viewed), 0) as double) as conversion_rate
from session_steps
group by dt
