"""The Glue database the lake's tables live in."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from airlake.catalog.errors import CatalogError, error_code

log = logging.getLogger(__name__)


def ensure_database(glue: Any, database: str) -> bool:
    """
    Create the Glue database when it does not exist.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_database`
        - :external+boto3:py:meth:`Glue.Client.create_database`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :return: True when it did not exist before this call (created by it, or by a lost-reply resend or a
        concurrent run while it ran), False when it already existed.
    """
    try:
        glue.get_database(Name=database)
        return False
    except ClientError as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise CatalogError(f"get_database {database} failed: {exc}") from exc
    try:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": "Airlake curated datasets: tables managed by the catalog stage from contracts.",
            }
        )
    except ClientError as exc:
        if error_code(exc) != "AlreadyExistsException":
            raise CatalogError(f"create_database {database} failed: {exc}") from exc
        # absent a moment ago: the resend of a create whose reply was lost, or a concurrent run; a
        # database has nothing else to match than its name
        log.info("Glue database %s already created (a lost reply or a concurrent run)", database)
    else:
        log.info("Created Glue database %s", database)
    return True
    log.info("Created Glue database %s", database)
    return True
