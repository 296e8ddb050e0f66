"""Windows' profiles: one file's items, the dirty marks, and the crash-safe rollup (``PROF#``, ``DIRTY#``)."""

from __future__ import annotations

import uuid

from driftline.core.errors import StorageError
from driftline.core.profile import Profile
from driftline.services.ports import Condition, ConditionFailed, Item
from driftline.services.store.base import (
    NONE,
    StoreBase,
    _complete,
    _join,
    _pack,
    _parts,
    _unpack,
    doc_to_profiles,
    profiles_to_doc,
    ws_key,
)
from driftline.services.store.records import WindowProfiles


class WindowsMixin(StoreBase):
    # -- profiles --------------------------------------------------------------------------------------------------

    def put_file_profiles(
        self, model_id: str, file_id: str, profiles: dict[tuple[int, str | None], Profile]
    ) -> list[int]:
        """Write one file's profiles (one blob per window) and mark those windows dirty. Idempotent: a second
        write of the same file writes the same items under the same keys."""
        by_window: dict[int, dict[str | None, Profile]] = {}
        for (ws, seg), prof in profiles.items():
            by_window.setdefault(ws, {})[seg] = prof
        items: list[Item] = []
        for ws, segs in by_window.items():
            blob = _pack(profiles_to_doc(segs))
            parts = _parts(blob)
            for i, part in enumerate(parts):
                items.append(
                    {
                        "pk": f"PROF#{model_id}#{ws_key(ws)}",
                        "sk": f"F#{file_id}#p{i:03d}",
                        "data": part,
                        "parts": len(parts),
                        "file_id": file_id,
                    }
                )
        self.table.batch_put(items)
        for ws, segs in by_window.items():
            population = segs.get(None)
            self.mark_dirty(model_id, ws, rows=0 if population is None else population.rows)
        return sorted(by_window)

    def mark_dirty(self, model_id: str, window_start: int, *, rows: int = 0) -> None:
        """Mark the window changed (a new token), adding ``rows`` to the rows its mark has counted (what the
        evaluator reads to know when an open window is due for a look, without reading its profiles)."""
        self.table.add(
            f"DIRTY#{model_id}",
            ws_key(window_start),
            {"rows": rows},
            set_values={"window_start": window_start, "seq": uuid.uuid4().hex, "updated_at": self.clock()},
        )

    def dirty_windows(self, model_id: str, *, until: int | None = None) -> list[tuple[int, str]]:
        """(window start, change token) of the windows with unevaluated changes, oldest first."""
        items = self.table.query(f"DIRTY#{model_id}", sk_to=None if until is None else ws_key(until))
        return [(int(i["window_start"]), str(i["seq"])) for i in items]

    def has_dirty(self, model_id: str, *, until: int | None = None) -> bool:
        """Whether some window (up to ``until``) has unevaluated changes: one item read at most."""
        items = self.table.query(f"DIRTY#{model_id}", sk_to=None if until is None else ws_key(until), limit=1)
        return next(iter(items), None) is not None

    def clear_dirty(self, model_id: str, window_start: int, token: str) -> bool:
        """Clear the mark unless a newer change set it again meanwhile."""
        try:
            self.table.delete(f"DIRTY#{model_id}", ws_key(window_start), condition=Condition(attr="seq", equals=token))
            return True
        except ConditionFailed:
            return False

    def claim_file_window(
        self, model_id: str, window_start: int, segment: str | None, *, file_id: str, part: str
    ) -> bool:
        """Whether ``part`` (of the split file ``file_id``) counts the file in this window and segment: the first
        part to ask claims it (a conditional write), and keeps it when it asks again (a retry)."""
        pk, sk = f"PROF#{model_id}#{ws_key(window_start)}", f"S#{file_id}#{segment or NONE}"
        try:
            self.table.put({"pk": pk, "sk": sk, "part": part}, condition=Condition(absent=True))
            return True
        except ConditionFailed:
            existing = self.table.get(pk, sk)
            return existing is not None and existing.get("part") == part

    def count_window_file(self, model_id: str, window_start: int) -> int:
        """Count one more file written to the window (an atomic counter); the count so far."""
        return int(self.table.add(f"PROF#{model_id}#{ws_key(window_start)}", "C#FILES", {"files": 1})["files"])

    def window_profiles(self, model_id: str, window_start: int) -> WindowProfiles:
        """The window's rollup merged with every file item it does not include yet."""
        pk = f"PROF#{model_id}#{ws_key(window_start)}"
        for _ in range(3):
            items = list(self.table.query(pk))
            head = next((i for i in items if i["sk"] == "R#HEAD"), None)
            if head is None or _complete(items, f"R#{int(head['version']):08d}#{head['token']}#"):
                break
            # a rollup moved on while the pages were read (the parts read are an older one's): read again
        else:
            raise StorageError(f"window {pk}: its rollup kept moving while it was read", retryable=True)
        version = int(head["version"]) if head else 0
        rolled: dict[str | None, Profile] = {}
        consumed: frozenset[str] = frozenset()
        if head is not None:
            live = f"R#{version:08d}#{head['token']}#"
            doc = _unpack(_join(i for i in items if i["sk"].startswith(live)))
            rolled = doc_to_profiles(doc["profiles"])
            consumed = frozenset(doc["consumed"])
        files: dict[str, list[Item]] = {}
        for i in items:
            if i["sk"].startswith("F#"):
                files.setdefault(str(i["file_id"]), []).append(i)
        # An id whose items are gone is forgotten once its file is finished: a finished file is never ingested again
        # (FILE# markers), but an unfinished one (its attempt failed after writing) is redelivered and writes the
        # same items again, which must not count twice.
        gone = consumed - frozenset(files)
        consumed = (consumed - gone) | self._unfinished(gone)
        merged = dict(rolled)
        used: set[str] = set()
        for fid in sorted(files):
            parts = files[fid]
            if fid in consumed or len(parts) != int(parts[0]["parts"]):
                continue  # already in the rollup, or a write still in flight (the window stays dirty)
            for seg, prof in doc_to_profiles(_unpack(_join(parts))).items():
                merged[seg] = merged[seg].merge(prof) if seg in merged else prof
            used.add(fid)
        file_sks = tuple(str(i["sk"]) for fid in sorted(used) for i in files[fid])
        rollup_sks = tuple(str(i["sk"]) for i in items if i["sk"].startswith("R#") and i["sk"] != "R#HEAD")
        return WindowProfiles(window_start, merged, frozenset(used), consumed, version, file_sks, rollup_sks)

    def _unfinished(self, file_ids: frozenset[str]) -> frozenset[str]:
        """Those of ``file_ids`` whose file is still being processed (or will be again)."""
        if not file_ids:
            return frozenset()
        items = self.table.batch_get([(f"FILE#{fid}", "FILE") for fid in sorted(file_ids)])
        return frozenset(str(i["pk"]).removeprefix("FILE#") for i in items if i.get("status") not in ("done", "failed"))

    def roll_up(self, model_id: str, wp: WindowProfiles) -> bool:
        """Store ``wp.profiles`` as the window's new rollup and drop the file items it includes.

        Crash-safe: the new rollup records the file ids it includes, so files not yet deleted are not counted
        twice; the head moves only if no other evaluator moved it first (optimistic concurrency)."""
        if not wp.file_ids:
            return False
        pk = f"PROF#{model_id}#{ws_key(wp.window_start)}"
        version = wp.version + 1
        token = uuid.uuid4().hex[:12]  # this writer's parts: a concurrent writer of the same version has others
        doc = {"profiles": profiles_to_doc(wp.profiles), "consumed": sorted(wp.file_ids | wp.consumed)}
        parts = _parts(_pack(doc))
        sks = [f"R#{version:08d}#{token}#p{i:03d}" for i in range(len(parts))]
        self.table.batch_put(
            [{"pk": pk, "sk": sk, "data": p, "parts": len(parts)} for sk, p in zip(sks, parts, strict=True)]
        )
        cond = Condition(absent=True) if wp.version == 0 else Condition(attr="version", equals=wp.version)
        try:
            self.table.put({"pk": pk, "sk": "R#HEAD", "version": version, "token": token}, condition=cond)
        except ConditionFailed:  # another evaluator rolled this window up first: drop our parts only
            for sk in sks:
                self.table.delete(pk, sk)
            return False
        # The rollup is in force: drop the parts of the rollups read and the file items it now includes (keys
        # known from the read: no second query; a file that arrived since is not among them).
        for sk in (*wp.rollup_sks, *wp.file_sks):
            self.table.delete(pk, sk)
        return True
