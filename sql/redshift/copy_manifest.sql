-- AWS path: load exactly the Parquet files listed in a COPY manifest (written by the load stage).
-- Parquet columns map by position to the column list: the curated files hold the contract's columns.
copy {{ target }} ({{ load_columns }})
from {{ manifest_uri }}
iam_role {{ iam_role }}
format as parquet
manifest;
