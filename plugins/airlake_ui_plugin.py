"""The Airflow plugin of the Lake page (Airflow discovers plugin classes in the top of ``plugins/``).

An external view (an iframe in the UI's navigation at ``/plugin/lake``) on the plugin's FastAPI app,
mounted by the API server at ``/airlake``: the page is rendered on the server from the lake's own
records, so no React bundle is built or shipped, and the app runs Airflow's authentication on every
route (see :mod:`airlake.ui.app`).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airlake.ui.app import app

URL_PREFIX = "/airlake"


class AirlakeUiPlugin(AirflowPlugin):
    name = "airlake_ui"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Airlake lake status"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "Lake",
            # relative (no leading slash): the UI's <base href> makes it /airlake/ behind any base URL
            "href": "airlake/",
            "url_route": "lake",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
