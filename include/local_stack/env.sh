# Environment of the local stack: source it (". include/local_stack/env.sh") from the project root.
# Everything the DAGs need differs from real AWS only here: connections, the lake bucket, the query engine.
# Ports can be overridden before sourcing (AIRLAKE_MOTO_PORT, AIRLAKE_PG_PORT, AIRLAKE_FX_API_PORT, AIRFLOW_PORT).

AIRLAKE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export AIRLAKE_ROOT
export AIRLAKE_STATE="${AIRLAKE_STATE:-$AIRLAKE_ROOT/.local}"
export AIRLAKE_MOTO_PORT="${AIRLAKE_MOTO_PORT:-5055}"
export AIRLAKE_PG_PORT="${AIRLAKE_PG_PORT:-5433}"
export AIRLAKE_FX_API_PORT="${AIRLAKE_FX_API_PORT:-8765}"
export AIRFLOW_PORT="${AIRFLOW_PORT:-8080}"

# moto accepts any key; these placeholders are not credentials and never leave this machine.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-moto-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-moto-local}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

# Airflow 3: home, DAGs and plugins in the project, small parallelism for 2 cores. The metadata DB is a
# database of the stack's PostgreSQL: under SQLite, backfills created through the API while the
# scheduler runs fail with "database is locked".
export AIRFLOW_HOME="$AIRLAKE_STATE/airflow"
export AIRLAKE_AIRFLOW_DB="${AIRLAKE_AIRFLOW_DB:-airflow}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airlake@127.0.0.1:$AIRLAKE_PG_PORT/$AIRLAKE_AIRFLOW_DB"
export AIRFLOW__CORE__DAGS_FOLDER="$AIRLAKE_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$AIRLAKE_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# Parallelism: the executor's task slots. Each dataset DAG runs one run at a time (max_active_runs 1: a run
# consumes what earlier runs left), so the demo's five DAGs and two views have up to ~8 tasks ready at once;
# with 4 slots they queued 7-14 s per task (queued -> start in the metadata DB), while a task spends most of
# its life starting up and waiting on moto, PostgreSQL and the API server rather than on a core.
export AIRFLOW__CORE__PARALLELISM=8
# LocalExecutor with boto3, the amazon provider, OpenLineage, DuckDB, psycopg and sqlglot imported in the
# scheduler before it forks its workers, so that no task imports them again (include/local_stack/executor.py).
# Airlake's own code is still imported by each task.
export AIRFLOW__CORE__EXECUTOR=include.local_stack.executor.PreloadingLocalExecutor
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=2
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$AIRFLOW_PORT"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW_PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW_PORT/execution/"
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
# DAG files are parsed again every 30 s (the default). Not 5 minutes: with 300 s the demo's view DAGs stopped
# getting asset-triggered runs after the first few (runs waited ~5 min to start and later asset events made
# none): the week's views were never built.
export PYTHONPATH="$AIRLAKE_ROOT/plugins:$AIRLAKE_ROOT${PYTHONPATH:+:$PYTHONPATH}"
# OpenLineage events of every task, one JSON per line, to read lineage offline (fsspec creates the folder).
export AIRFLOW__OPENLINEAGE__TRANSPORT="{\"type\": \"file\", \"log_file_path\": \"$AIRLAKE_STATE/lineage/events.jsonl\", \"append\": true, \"filesystem\": \"fsspec.implementations.local.LocalFileSystem\", \"fs_kwargs\": {\"auto_mkdir\": true}}"
export AIRFLOW__OPENLINEAGE__NAMESPACE=airlake-local

# Connections: moto for every AWS API, PostgreSQL for the warehouse and the shop's operational DB.
# config_kwargs: botocore settings over the lake's own (plugins/airlake/aws.py: standard retries, 8 attempts,
# 10 s connect, 60 s read timeout), option by option; moto is on this machine, so give up connecting sooner.
export AIRFLOW_CONN_AWS_DEFAULT="{\"conn_type\": \"aws\", \"extra\": {\"region_name\": \"$AWS_DEFAULT_REGION\", \"endpoint_url\": \"http://127.0.0.1:$AIRLAKE_MOTO_PORT\", \"config_kwargs\": {\"connect_timeout\": 3}}}"
export AIRFLOW_CONN_AIRLAKE_WAREHOUSE="postgres://airlake@127.0.0.1:$AIRLAKE_PG_PORT/warehouse"
export AIRFLOW_CONN_SHOP_DB="postgres://airlake@127.0.0.1:$AIRLAKE_PG_PORT/shop"
export AIRFLOW_CONN_FX_API="http://127.0.0.1:$AIRLAKE_FX_API_PORT"

# Lake settings read by the DAGs (Airflow Variables given as environment variables).
export AIRFLOW_VAR_AIRLAKE_BUCKET="${AIRFLOW_VAR_AIRLAKE_BUCKET:-airlake-local}"
export AIRFLOW_VAR_AIRLAKE_QUERY_ENGINE=duckdb
# Alerts (airlake.alerts): deadline misses, failed quality checks and reject budgets go to this SNS topic
# in moto (moto's account 123456789012); the demo creates it with the SQS queue airlake-alerts subscribed.
export AIRFLOW_VAR_AIRLAKE_ALERTS_TOPIC_ARN="${AIRFLOW_VAR_AIRLAKE_ALERTS_TOPIC_ARN:-arn:aws:sns:$AWS_DEFAULT_REGION:123456789012:airlake-alerts}"
