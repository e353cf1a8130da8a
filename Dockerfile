# Airlake's Airflow images, from the official Airflow image plus requirements.txt (the runtime set only:
# no moto, no test tools; those are requirements-local.txt and requirements-dev.txt), pinned by
# constraints.txt. Keep AIRFLOW_VERSION equal to the apache-airflow pin in requirements.txt and
# constraints.txt (tests/test_docker_compose.py checks it). Two targets:
#   runtime  what docker-compose.yaml builds for every Airflow service: dags/, plugins/, sql/ and include/
#            are mounted, not copied, so editing them needs no rebuild.
#   deploy   the image to ship (the default target): the same plus dags/, plugins/, sql/ and include/
#            copied in, and the code revision the manifests record:
#            docker build --target deploy --build-arg AIRLAKE_CODE_REVISION=$(git rev-parse --short HEAD) .
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS runtime

USER airflow
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airlake/
RUN pip install --no-cache-dir -r /opt/airlake/requirements.txt -c /opt/airlake/constraints.txt

FROM runtime AS deploy
ARG AIRLAKE_CODE_REVISION=unknown
# The layout the code expects: plugins/ next to sql/ and include/ (airlake.paths, the contracts loader),
# `import airlake` from plugins/, as docker-compose.yaml sets it up with mounts.
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins \
    PYTHONPATH=/opt/airflow/plugins:/opt/airflow \
    AIRLAKE_ROOT=/opt/airflow \
    AIRLAKE_CODE_REVISION=${AIRLAKE_CODE_REVISION}
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 sql/ /opt/airflow/sql/
COPY --chown=airflow:0 include/ /opt/airflow/include/
USER airflow
