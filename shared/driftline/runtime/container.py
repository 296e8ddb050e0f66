"""Composition root: builds the services with real adapters, once per container (lazily, on first use)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from driftline.adapters.dynamodb import DynamoTable
from driftline.adapters.eventbridge import EventBridgeSink
from driftline.adapters.s3 import S3ObjectStore
from driftline.adapters.sns import SnsAlertSink
from driftline.adapters.sqs import SqsQueue
from driftline.runtime.settings import Settings
from driftline.services.alerts import AlertPublisher
from driftline.services.evaluate import EvaluateService
from driftline.services.models import ModelRegistry
from driftline.services.store import Store

if TYPE_CHECKING:
    from driftline.services.dispatch import EvaluationDispatcher, EvaluationWorker
    from driftline.services.ingest import IngestService

# parameter_validation off: botocore's client-side check of every request against the service model was ~18% of
# the evaluator's CPU (moto load run). The adapters build their requests in one place each, and a wrong one is
# still refused, by the service (a ValidationException, translated like any other ClientError).
_BOTO_CONFIG = Config(
    retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=60, parameter_validation=False
)


@dataclass
class Container:
    settings: Settings
    session: Any = None

    def client(self, service: str) -> Any:
        session: Any = self.session or boto3.session.Session()
        return session.client(
            service, endpoint_url=self.settings.endpoint_url, region_name=self.settings.region, config=_BOTO_CONFIG
        )

    @cached_property
    def store(self) -> Store:
        return Store(
            DynamoTable(self.client("dynamodb"), self.settings.table),
            metrics_retention_days=self.settings.metrics_retention_days,
            id_retention_days=self.settings.id_retention_days,
        )

    @cached_property
    def objects(self) -> S3ObjectStore:
        return S3ObjectStore(self.client("s3"), self.settings.bucket)

    @cached_property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.store, self.objects)

    @cached_property
    def alerts(self) -> AlertPublisher:
        bus = self.settings.event_bus
        events = None if bus is None else EventBridgeSink(self.client("events"), bus)
        return AlertPublisher(self.store, SnsAlertSink(self.client("sns"), self.settings.topic_arn), events)

    @cached_property
    def ingest(self) -> IngestService:
        # imported here: only the SQS-triggered functions build the ingest service
        from driftline.services.ingest import IngestService
        from driftline.services.split import FileSplitter

        service = IngestService(self.store, self.registry, self.alerts)
        url = self.settings.ingest_queue_url
        queue = SqsQueue(self.client("sqs"), url) if url else None
        service.splitter = FileSplitter(self.store, self.objects, queue, split_bytes=self.settings.split_bytes)
        return service

    @cached_property
    def evaluate(self) -> EvaluateService:
        return EvaluateService(self.store, self.registry, self.alerts)

    @cached_property
    def dispatcher(self) -> EvaluationDispatcher:
        """The scheduled evaluator's fan-out: models with windows due → the evaluate queue (needs its URL)."""
        from driftline.services.dispatch import EvaluationDispatcher

        if not self.settings.evaluate_queue_url:
            raise RuntimeError("DRIFTLINE_EVALUATE_QUEUE_URL is not set: no evaluate queue to dispatch to")
        queue = SqsQueue(self.client("sqs"), self.settings.evaluate_queue_url)
        return EvaluationDispatcher(self.store, self.registry, queue)

    @cached_property
    def worker(self) -> EvaluationWorker:
        from driftline.services.dispatch import EvaluationWorker

        return EvaluationWorker(self.store, self.evaluate)


_container: Container | None = None


def container() -> Container:
    """The container of this Lambda execution environment, built on first use from the environment."""
    global _container
    if _container is None:
        _container = Container(Settings.from_env())
    return _container


def reset_container(new: Container | None = None) -> None:
    """Tests and the local cloud: forget (or replace) the cached container."""
    global _container
    _container = new
