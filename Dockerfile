# Airlake's Airflow image: the official Airflow image plus requirements.txt (the runtime set only: no moto,
# no test tools; those are requirements-local.txt and requirements-dev.txt), pinned by constraints.txt.
# Built by docker-compose.yaml for every Airflow service; DAGs, plugins, SQL and include/ are mounted,
# not copied, so editing them needs no rebuild. Keep AIRFLOW_VERSION equal to the apache-airflow pin in
# requirements.txt and constraints.txt (tests/test_docker_compose.py checks it).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER airflow
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airlake/
RUN pip install --no-cache-dir -r /opt/airlake/requirements.txt -c /opt/airlake/constraints.txt
