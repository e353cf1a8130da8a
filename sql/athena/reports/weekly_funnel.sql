-- The funnel of each day of the ISO week starting {{ ds }}, from the funnel_daily view.
select
    dt,
    sessions,
    product_view_sessions,
    add_to_cart_sessions,
    purchase_sessions,
    conversion_rate
from funnel_daily
where
    dt >= '{{ ds }}'
    and dt < cast(date(date '{{ ds }}' + interval '7' day) as varchar)
order by dt
