-- The week's most popular products (most purchases, then most views), from product_popularity_weekly.
select
    product_id,
    product_name,
    category,
    product_views,
    add_to_cart,
    purchases
from product_popularity_weekly
where dt = '{{ ds }}'
order by purchases desc, product_views desc, product_id asc
limit 10
