-- Incremental extract of one operational table by its watermark column, oldest first; or, for a
-- full refresh, every row whose event time falls in the run's interval.
-- Identifiers arrive validated and quoted; the *_param values render as bound-parameter
-- placeholders (values are never spliced into the text).
select {{ columns }}
from {{ table }}
where
    true
    {% if has_low %}and {{ watermark }} > {{ low_param }}{% endif %}
    {% if has_high %}and {{ watermark }} < {{ high_param }}{% endif %}
    {% if event_range %}and {{ event_time }} >= {{ start_param }}{% endif %}
    {% if event_range %}and {{ event_time }} < {{ end_param }}{% endif %}
order by {{ watermark }}, {{ order_keys }}
