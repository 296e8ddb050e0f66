"""Windows of any number of files: merged as files arrive, so that evaluating a window reads a bounded number of
items whatever its file count.

Each file writes its own profile item per window (``Store.put_file_profiles``) and counts itself in the window's
counter; every ``every``-th file of a window merges the window's file items into its rollup right away
(``Store.roll_up``, the evaluator's own crash-safe rollup: optimistic on the rollup's version, the file ids it
includes recorded in it, only the items it read deleted). A window then holds its rollup and fewer than about
``every`` file items (plus those being written at that moment), whatever its file count: the evaluator reads
those, not one item per file. Two merges at once, or a merge and an evaluation, lose nothing: one moves the
rollup's version, the other's write fails its condition and its file items stay for the next merge. A merge
that fails is not retried on its own (the next ``every`` files trigger another, and the evaluation merges what
is left).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from driftline.core.errors import StorageError
from driftline.services.store import Store

log = logging.getLogger(__name__)

MERGE_EVERY = 64  # file items a window accumulates between merges: ~1 MB to read and ~1 s to decode at 15 ms each


class WindowMerger:
    def __init__(self, store: Store, *, every: int = MERGE_EVERY) -> None:
        if every < 2:
            raise ValueError(f"every must be >= 2 files, got {every}")
        self.store = store
        self.every = every

    def after_file(self, model_id: str, windows: Iterable[int]) -> int:
        """A file's profiles were written to ``windows``: count it in each, and merge those where it is the
        ``every``-th. Returns the number of merges done."""
        merged = 0
        for ws in windows:
            try:
                if self.store.count_window_file(model_id, ws) % self.every == 0 and self.merge(model_id, ws):
                    merged += 1
            except (StorageError, ValueError) as err:  # counted already: the next merge or the evaluation catches up
                where = {"model_id": model_id, "window_start": ws, "reason": str(err)}
                log.warning("window merge skipped", extra=where)
        return merged

    def merge(self, model_id: str, window_start: int) -> bool:
        """Merge the window's file items into its rollup; False when there was nothing to merge or another merge
        moved the rollup first."""
        return self.store.roll_up(model_id, self.store.window_profiles(model_id, window_start))
