-- Revenue per shipping country in the ISO week starting {{ ds }} (a Monday), from the daily_sales view.
select
    country,
    cast(sum(orders) as bigint) as orders,
    cast(round(sum(revenue_eur), 2) as double) as revenue_eur
from daily_sales
where
    dt >= '{{ ds }}'
    and dt < cast(date(date '{{ ds }}' + interval '7' day) as varchar)
group by country
order by revenue_eur desc, country asc
