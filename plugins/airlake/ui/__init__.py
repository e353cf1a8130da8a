"""The Lake page of the Airflow UI: a FastAPI app mounted in the API server, shown as an external view.

Kept import-light (every Airflow process imports plugin files): FastAPI and Jinja2 only; hooks, boto3 and
Airflow's security functions are imported on the first request.
"""

from __future__ import annotations
