-- Incremental extract of one operational table by its watermark column, oldest first.
-- Identifiers arrive validated and quoted; low_param/high_param render as bound-parameter
-- placeholders (values are never spliced into the text).
select {{ columns }}
from {{ table }}
where
    true
    {% if has_low %}and {{ watermark }} > {{ low_param }}{% endif %}
    {% if has_high %}and {{ watermark }} < {{ high_param }}{% endif %}
order by {{ watermark }}, {{ order_keys }}
