-- Product popularity in the ISO week (Monday to Sunday) holding {{ ds }}: product views, add-to-cart
-- and purchase events per product, with the product's latest name and category from the catalogue.
-- Every computed column is cast to its declared type: the view table's Glue types (on Athena and
-- locally) are these.
with week_events as (
    select
        product_id,
        event_type,
        date_trunc('week', date(dt)) as week_start
    from clickstream
    where
        dt >= cast(date(date_trunc('week', date '{{ ds }}')) as varchar)
        and dt < cast(date(date_trunc('week', date '{{ ds }}') + interval '7' day) as varchar)
        and product_id is not null
        and event_type in ('product_view', 'add_to_cart', 'purchase')
),

latest_products as (
    select
        product_id,
        name,
        category,
        row_number() over (
            partition by product_id
            order by updated_at desc, dt desc
        ) as version_rank
    from products
)

select
    e.product_id,
    p.name as product_name,
    p.category,
    cast(e.week_start as date) as week_start,
    cast(year_of_week(e.week_start) as bigint) as iso_year,
    cast(week_of_year(e.week_start) as bigint) as iso_week,
    cast(count_if(e.event_type = 'product_view') as bigint) as product_views,
    cast(count_if(e.event_type = 'add_to_cart') as bigint) as add_to_cart,
    cast(count_if(e.event_type = 'purchase') as bigint) as purchases
from week_events as e
left join latest_products as p
    on
        e.product_id = p.product_id
        and p.version_rank = 1
group by e.product_id, p.name, p.category, e.week_start
