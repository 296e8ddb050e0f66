"""``EventSink`` over one EventBridge bus, with the boto3 client (SPEC §4 EventBridge).

One alert is one ``PutEvents`` entry: ``Source`` ``driftline``, ``DetailType`` ``Driftline Alert``, ``Detail`` the
alert's JSON object (the SNS ``default`` message). PutEvents answers 200 even when an entry failed: the entry's
``ErrorCode`` is read and turned into a StorageError (throttling and internal failures retryable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from driftline.adapters._errors import translate
from driftline.core.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient

SOURCE = "driftline"
DETAIL_TYPE = "Driftline Alert"
MAX_ENTRY_BYTES = 256 * 1024
_RETRYABLE = frozenset(
    {"ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable", "LimitExceededException"}
)


def check_detail(detail: str) -> None:
    """PutEvents' limits on one entry (ValueError naming the fault)."""
    size = len(detail.encode()) + len(SOURCE) + len(DETAIL_TYPE)
    if size > MAX_ENTRY_BYTES:
        raise ValueError(f"detail: {size} bytes with source and detail type; EventBridge allows {MAX_ENTRY_BYTES}")
    if not detail.startswith("{"):
        raise ValueError("detail: must be a JSON object")


class EventBridgeSink:
    """``ports.EventSink`` over one bus. ``client`` is a boto3 EventBridge client created once by the runtime."""

    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self.bus_name = bus_name

    def put(self, *, detail: str) -> str:
        check_detail(detail)
        where = f"event bus {self.bus_name!r}"
        try:
            resp = self._client.put_events(
                Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": detail, "EventBusName": self.bus_name}]
            )
        except (ClientError, BotoCoreError) as err:
            raise translate(err, where, retryable=_RETRYABLE) from err
        entry = resp["Entries"][0] if resp.get("Entries") else {}
        if resp.get("FailedEntryCount", 0) or "EventId" not in entry:
            code, message = str(entry.get("ErrorCode", "")), str(entry.get("ErrorMessage", "no event id returned"))
            raise StorageError(f"{where}: {code or 'PutEvents failed'}: {message}", retryable=code in _RETRYABLE)
        return str(entry["EventId"])
