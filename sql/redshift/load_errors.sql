-- Why this session's COPY failed: the rejected fields Redshift logged, newest COPY first.
-- pg_last_copy_id() names the COPY; the session filter finds it too when the id was not kept.
select
    le.query,
    trim(le.filename) as file_name,
    le.line_number,
    trim(le.colname) as field_name,
    trim(le.type) as field_type,
    le.err_code,
    trim(le.err_reason) as reason
from stl_load_errors as le
where
    le.query = pg_last_copy_id()
    or (
        le.session = pg_backend_pid()
        and le.starttime >= (
            select ss.starttime
            from stv_sessions as ss
            where ss.process = pg_backend_pid()
        )
    )
order by le.query desc, le.line_number asc
limit 20;
