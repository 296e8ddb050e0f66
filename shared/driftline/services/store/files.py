"""Files, exactly once (``FILE#``, ``MODEL# FILES``, ``KEY#``), and the evaluator's lease on a model
(``MODEL# LEASE``)."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from driftline.services.ports import Condition, ConditionFailed
from driftline.services.store.base import StoreBase
from driftline.services.store.records import FileCounts, FileRecord


class FilesMixin(StoreBase):
    # -- files: exactly-once accounting --------------------------------------------------------------------------

    def claim_file(self, file_id: str, *, model_id: str, key: str, kind: str) -> bool:
        """True when this file should be processed now: it is new, or an earlier attempt did not finish.
        False when it was already done (a duplicate delivery)."""
        item = {
            "pk": f"FILE#{file_id}",
            "sk": "FILE",
            "model_id": model_id,
            "key": key,
            "kind": kind,
            "status": "processing",
            "started_at": self.clock(),
            "expires_at": int(self.clock()) + self.metrics_ttl,
        }
        try:
            self.table.put(item, condition=Condition(absent=True))
        except ConditionFailed:
            existing = self.table.get(f"FILE#{file_id}", "FILE")
            # done, failed for good, or split (its parts were queued, each claimed on its own) → a duplicate delivery
            return existing is None or existing.get("status") not in ("done", "failed", "split")
        last = {"last_key": key, "last_kind": kind, "last_at": item["started_at"], "last_file_id": file_id}
        self.table.add(f"MODEL#{model_id}", "FILES", {"received": 1}, set_values=last)
        return True

    def finish_file(self, file_id: str, *, status: str, rows: int = 0, reason: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "rows": rows, "finished_at": self.clock()}
        if reason:
            values["reason"] = reason
        item = self.table.add(f"FILE#{file_id}", "FILE", {}, set_values=values)
        if item.get("model_id") and status in ("done", "failed", "dead_lettered"):
            self.table.add(f"MODEL#{item['model_id']}", "FILES", {status: 1})

    def file_counts(self, model_id: str) -> FileCounts:
        item = self.table.get(f"MODEL#{model_id}", "FILES") or {}
        return FileCounts(
            int(item.get("received", 0)),
            int(item.get("done", 0)),
            int(item.get("failed", 0)),
            item.get("last_key"),
            item.get("last_kind"),
            None if item.get("last_at") is None else float(item["last_at"]),
            item.get("last_file_id"),
            int(item.get("dead_lettered", 0)),
        )

    def get_file(self, file_id: str) -> FileRecord | None:
        item = self.table.get(f"FILE#{file_id}", "FILE")
        if item is None:
            return None
        started, finished, reason = item.get("started_at"), item.get("finished_at"), item.get("reason")
        return FileRecord(
            file_id=file_id,
            model_id=None if item.get("model_id") is None else str(item["model_id"]),
            key=str(item.get("key", "")),
            kind=str(item.get("kind", "")),
            status=str(item.get("status", "")),
            started_at=None if started is None else float(started),
            finished_at=None if finished is None else float(finished),
            rows=int(item.get("rows", 0)),
            reason=None if reason is None else str(reason),
        )

    def claimed_at(self, file_id: str) -> float | None:
        """When the file was first claimed (a redelivery finds the same time), or None: never claimed."""
        record = self.get_file(file_id)
        return None if record is None else record.started_at

    def file_statuses(self, file_ids: Sequence[str]) -> dict[str, str]:
        """The status (processing | done | failed) of those of ``file_ids`` ever claimed (one batched read)."""
        items = self.table.batch_get([(f"FILE#{fid}", "FILE") for fid in file_ids])
        return {str(i["pk"]).removeprefix("FILE#"): str(i.get("status", "")) for i in items}

    def claim_key(self, model_id: str, key: str, file_id: str) -> str | None:
        """Record that ``file_id`` is the version of ``key`` that counts. Returns the file id of another version
        that already counts (the key was overwritten with new content), else None. A version that failed or was
        dead-lettered does not count: a new version replaces it."""
        pk = f"KEY#{model_id}#{hashlib.sha256(key.encode()).hexdigest()[:32]}"
        item = {"pk": pk, "sk": "KEY", "file_id": file_id, "expires_at": int(self.clock()) + self.metrics_ttl}
        try:
            self.table.put(item, condition=Condition(absent=True))
            return None
        except ConditionFailed:
            existing = self.table.get(pk, "KEY")
        earlier = None if existing is None else str(existing["file_id"])
        if earlier is None or earlier == file_id:
            return None
        earlier_file = self.get_file(earlier)
        if earlier_file is not None and earlier_file.status in ("failed", "dead_lettered"):
            self.table.put(item)
            return None
        return earlier

    # -- leases: one evaluator per model at a time -------------------------------------------------------------------

    def acquire_lease(self, model_id: str, owner: str, *, seconds: float) -> bool:
        """Hold the model for ``seconds`` (or renew one's own hold): True when ``owner`` holds it now. A lease
        held by another and not expired is respected; an expired one is taken over. Every write carries a new
        token and is conditional on the token read, so of two takers only one wins, and a late renewal by the
        expired holder cannot slip in after a takeover."""
        pk, now = f"MODEL#{model_id}", self.clock()
        item = {"pk": pk, "sk": "LEASE", "owner": owner, "until": now + seconds, "token": uuid.uuid4().hex}
        current = self.table.get(pk, "LEASE")
        if current is not None and current.get("owner") != owner and float(current.get("until", 0)) > now:
            return False
        cond = Condition(absent=True) if current is None else Condition(attr="token", equals=current.get("token"))
        try:
            self.table.put(item, condition=cond)
            return True
        except ConditionFailed:
            return False

    def release_lease(self, model_id: str, owner: str) -> None:
        """Give the model up, if ``owner`` still holds it (a lease taken over after expiry is left alone)."""
        with contextlib.suppress(ConditionFailed):
            self.table.delete(f"MODEL#{model_id}", "LEASE", condition=Condition(attr="owner", equals=owner))
