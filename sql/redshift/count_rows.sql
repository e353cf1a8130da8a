-- Rows of a staging table of the load (staged, then de-duplicated).
select count(*) as table_rows
from {{ staging }};
