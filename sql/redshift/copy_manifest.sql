-- AWS path: load exactly the Parquet files listed in a COPY manifest (written by the load stage).
copy {{ target }}
from {{ manifest_uri }}
iam_role {{ iam_role }}
format as parquet
manifest;
