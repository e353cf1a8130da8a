"""The Amazon provider's RedshiftSQLHook, with the COPY role kept in the connection's extra.

``RedshiftSQLHook.get_conn`` passes every extra key to ``redshift_connector.connect``, which rejects
keys it does not know: the role keys are taken out of what it sees and read here instead.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

import attrs
from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

from airlake.load.redshift import COPY_ROLE_KEYS, copy_iam_role


class RedshiftLoadHook(RedshiftSQLHook):
    """RedshiftSQLHook whose connection extra may hold ``copy_iam_role`` / ``iam_role`` for COPY."""

    @cached_property
    def conn(self) -> Any:
        """The connection as the provider's code sees it: the extra without the COPY role keys."""
        connection = self.connection
        extra = {k: v for k, v in connection.extra_dejson.items() if k not in COPY_ROLE_KEYS}
        return attrs.evolve(connection, extra=json.dumps(extra))

    def copy_iam_role(self) -> str:
        """The role ARN COPY assumes to read the lake, registered with the log masker first."""
        from airflow.sdk.log import mask_secret

        role = copy_iam_role(self.connection.extra_dejson, self.get_conn_id())
        mask_secret(role)
        return role
