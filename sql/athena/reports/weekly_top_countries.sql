-- Revenue per shipping country in the ISO week starting {{ ds }} (a Monday), from the daily_sales view.
-- A day whose currency had no FX rate has revenue_eur null: its orders are left out of revenue_eur and
-- counted in orders_without_fx_rate (revenue_eur is null when none of the country's orders converted).
select
    country,
    cast(sum(orders) as bigint) as orders,
    cast(round(sum(revenue_eur), 2) as double) as revenue_eur,
    cast(coalesce(sum(case when revenue_eur is null then orders end), 0) as bigint) as orders_without_fx_rate
from daily_sales
where
    dt >= '{{ ds }}'
    and dt < cast(date(date '{{ ds }}' + interval '7' day) as varchar)
group by country
order by revenue_eur desc nulls last, country asc
