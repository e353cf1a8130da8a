"""S3 event notifications of the landing prefixes to their SQS queues (the contracts' ``events_queue``).

On AWS this is infrastructure (Terraform, CloudFormation): the queue, a queue policy that lets
``s3.amazonaws.com`` send from the lake bucket, and the bucket's notification configuration. Locally the
same three calls go to moto, whose server does deliver S3 notifications to SQS (``s3:TestEvent`` when
configured, then one ``ObjectCreated:*`` record per object under the prefix, key URL-encoded).

CLI (after ``. include/local_stack/env.sh``)::

    python -m include.demo.notifications          # every contract with source.events_queue
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


def landing_event_queues(contracts: Mapping[str, Any]) -> dict[str, str]:
    """``{landing_prefix: queue name}`` of the contracts whose files source has an ``events_queue``."""
    return {
        contract.source.landing_prefix: contract.source.events_queue
        for contract in contracts.values()
        if contract.source.kind == "files" and contract.source.events_queue
    }


def _queue_arn(sqs_client: Any, queue: str) -> tuple[str, str]:
    try:
        url = sqs_client.get_queue_url(QueueName=queue)["QueueUrl"]
    except sqs_client.exceptions.QueueDoesNotExist:
        log.info("creating SQS queue %s", queue)
        url = sqs_client.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def ensure_landing_notifications(
    s3_client: Any, sqs_client: Any, bucket: str, queues: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Make ``bucket`` notify each queue of ``queues`` ({prefix: queue name}) of new objects under its
    prefix; queues are created if missing. Other notification targets of the bucket are kept; our own
    (Id ``airlake-landing-*``) are replaced. Returns the queue configurations set."""
    ours = []
    for prefix, queue in sorted(queues.items()):
        url, arn = _queue_arn(sqs_client, queue)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "lake-bucket-notifications",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                }
            ],
        }
        sqs_client.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        ours.append(
            {
                "Id": f"airlake-landing-{queue}",
                "QueueArn": arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
            }
        )
    current = s3_client.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    kept = [
        c
        for c in current.get("QueueConfigurations", [])
        if not str(c.get("Id", "")).startswith("airlake-landing-")
    ]
    config = {key: value for key, value in current.items() if key != "QueueConfigurations"}
    config["QueueConfigurations"] = kept + ours
    s3_client.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    for item in ours:
        log.info(
            "s3://%s/%s -> %s", bucket, item["Filter"]["Key"]["FilterRules"][0]["Value"], item["QueueArn"]
        )
    return ours


def main() -> int:
    import boto3

    from airlake.contracts import load_contracts

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    endpoint = f"http://127.0.0.1:{os.environ['AIRLAKE_MOTO_PORT']}"
    region = os.environ.get("AWS_DEFAULT_REGION")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
    queues = landing_event_queues(load_contracts())
    ensure_landing_notifications(s3, sqs, os.environ["AIRFLOW_VAR_AIRLAKE_BUCKET"], queues)
    if not queues:
        log.info("no contract has source.events_queue: nothing to notify")
    return 0


if __name__ == "__main__":
    sys.exit(main())
