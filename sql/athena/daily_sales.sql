-- Daily sales of {{ ds }} per shipping country and currency: orders, revenue, revenue in EUR.
-- Cancelled orders are left out of orders and revenue and counted apart.
-- EUR conversion: fx_rates of the same day (base EUR, rate = units of the quote currency per EUR),
-- the latest publication of each rate winning; EUR converts at 1. A currency without a rate that day:
-- revenue_eur is null (unknown, never 0), so the report can say which revenue it could not convert;
-- when the rate is published, its fx_rates asset event rebuilds the day (dags/airlake_views.py).
-- Every computed column is cast to its declared type: the view table's Glue types (on Athena and
-- locally) are these.
with fx as (
    select
        quote_currency,
        rate,
        row_number() over (
            partition by quote_currency
            order by published_at desc
        ) as publication_rank
    from fx_rates
    where
        base_currency = 'EUR'
        and rate_date = date '{{ ds }}'
        -- a rate is published on its day or later (a correction), never before the day before: the
        -- partitions from then on hold all its publications, so a day's view does not read the whole
        -- history of rates (one published earlier would show as a missing rate, not a wrong one)
        and dt >= cast(date(date '{{ ds }}' - interval '1' day) as varchar)
),

day_orders as (
    select
        dt,
        country,
        currency,
        status,
        amount
    from orders
    where dt = '{{ ds }}'
)

select
    o.dt,
    o.country,
    o.currency,
    cast(count_if(o.status <> 'cancelled') as bigint) as orders,
    cast(count_if(o.status = 'cancelled') as bigint) as cancelled_orders,
    cast(
        coalesce(sum(case when o.status <> 'cancelled' then o.amount end), 0) as decimal(38, 2)
    ) as revenue,
    cast(
        case
            when count_if(o.status <> 'cancelled') = 0 then 0
            else
                round(
                    sum(
                        case
                            when o.status <> 'cancelled'
                                then
                                    cast(o.amount as double)
                                    / cast(case when o.currency = 'EUR' then 1 else fx.rate end as double)
                        end
                    ),
                    2
                )
        end as double
    ) as revenue_eur
from day_orders as o
left join fx
    on
        o.currency = fx.quote_currency
        and fx.publication_rank = 1
group by o.dt, o.country, o.currency
