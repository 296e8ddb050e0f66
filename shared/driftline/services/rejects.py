"""Files that would otherwise vanish: keys no prefix pattern accepts, and messages about to be dead-lettered.

Every file that does not end counted ends in ``driftline errors`` with a reason and an ``ingest.error`` alert
(SPEC §4, §5):

- a key that does not match its prefix's pattern (``predictions/<id>//x.csv``, ``..`` segments, an upper-case or
  otherwise invalid model id) is reported under the model id it names when that is valid, else under its lower-case
  form when that is valid, else under :data:`REJECTED_MODEL` (``driftline errors --model _rejected``);
- a message whose last try (SQS ``ApproximateReceiveCount`` at the queue's ``maxReceiveCount``) fails — a model with
  no configuration or baseline yet, a throttled table, a bug — is reported before it goes to the dead-letter queue,
  and its file is marked ``dead_lettered`` (a redrive from the dead-letter queue processes it again).
"""

from __future__ import annotations

import hashlib
import logging

from driftline.core.config import MODEL_ID_RE
from driftline.services.ingest import IngestService
from driftline.services.models import ObjectRef
from driftline.services.store import file_id_for

log = logging.getLogger(__name__)

#: The model id under which keys naming no valid model are reported (no valid model id starts with "_").
REJECTED_MODEL = "_rejected"


def model_of_key(key: str) -> str:
    """The model a rejected key is reported under."""
    parts = key.split("/")
    named = parts[1] if len(parts) > 1 else ""
    for candidate in (named, named.lower()):
        if MODEL_ID_RE.fullmatch(candidate):
            return candidate
    return REJECTED_MODEL


def report_rejected_key(ingest: IngestService, bucket: str, key: str, reason: str) -> str:
    """An error record and an ``ingest.error`` alert for a key no prefix pattern accepts. Returns the model id."""
    model_id = model_of_key(key)
    file_id = "key-" + hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:32]
    ingest.report_failure(model_id, key, file_id, f"the key is not accepted: {reason}", kind="rejected")
    return model_id


def report_dead_letter(ingest: IngestService, ref: ObjectRef, error: BaseException, tries: int) -> None:
    """The last try of a message failed: record why before SQS moves it to the dead-letter queue."""
    file_id = file_id_for(ref.bucket, ref.key, ref.etag)
    reason = f"not processed after {tries} tries, sent to the dead-letter queue: {error}"
    started = ingest.store.claimed_at(file_id)
    ingest.report_failure(ref.model_id, ref.key, file_id, reason, at=started, kind="dead_letter")
    if started is not None:
        ingest.store.finish_file(file_id, status="dead_lettered", reason=reason)
