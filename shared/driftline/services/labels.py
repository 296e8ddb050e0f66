"""Labels: ground truth joined to predictions logged earlier (or later), with no item per prediction.

The join keeps, per file, one compact *pack* in S3 (``driftline.io.idkeys``: hashed ids sorted into hash buckets,
never the ids themselves nor any raw feature or segment value) and one entry in a per-model *join log* in
DynamoDB (``Store.join_log``): dense positions taken with conditional writes, so every file knows exactly which
files came before it. The rules, all decided by log positions (so a retry re-derives the same answer):

- a label file's ids count once: the first label file (by position) holding an id wins it; a later one counts
  the id as a duplicate;
- a won id is joined to the first prediction file holding it that came before the label file; the label file
  counts the pair. Ids with no such prediction are *unmatched*: reported as unknown, and kept (with their label)
  in a small pack of the label file, ``u/``;
- a prediction file that comes later reads the unmatched packs before it and counts the pairs it completes (labels
  that arrived before their predictions), unless a prediction file between them did (its ``c/`` pack of ids
  consumed). It waits (NotReadyError: the message is retried) while a file before it has not written its result.

Objects live under ``_driftline/ids/<model>/`` and expire with an S3 lifecycle rule, log items with DynamoDB's TTL,
both after the stack's ``IdRetentionDays``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.core.config import ModelConfig
from driftline.core.errors import InputError, NotReadyError
from driftline.core.profile import Profile
from driftline.core.profiler import GroupKey, PreparedBatch, ProfileBuilder
from driftline.core.scenarios import scenarios_key
from driftline.io.coerce import to_category, to_epoch_seconds, to_numeric
from driftline.io.idkeys import bucket_of, encode_pack, first_of_each, id_keys, lookup, read_pack
from driftline.io.prepare import GROUP_CODE_PREFIX, SCENARIO_BITS, BatchPreparer
from driftline.io.readers import iter_batches
from driftline.services.models import ModelRegistry, ObjectRef
from driftline.services.ports import NotFound
from driftline.services.store import JoinEntry, JoinFile, JoinLog, JoinResult, Store

LABEL_BATCH = 65_536  # label rows read at a time, and joined rows profiled at a time
MAX_LISTED_WINDOWS = 64  # a prediction file's windows listed in its log entry (more: searched for any label)
#: A file whose result is missing this long after it took its place (dead-lettered) is not waited for: its early
#: labels are not joined to the prediction files that come after it (logged).
STALE_S = 3 * 3600
STORAGE_CLASS = "INTELLIGENT_TIERING"
NO_WINDOW = np.iinfo(np.int64).min  # a label without a valid event time: searched in every prediction file


def _prefix(model_id: str, kind: str) -> str:
    return f"_driftline/ids/{model_id}/{kind}/"


@dataclass
class PredictionIds:
    """What a later label needs of each prediction row with an id, collected batch by batch while the file is
    profiled: window, segment codes (of the baseline's categories), prediction, score."""

    config: ModelConfig
    baseline_id: str
    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0

    def add(self, batch: pa.RecordBatch, prepared: PreparedBatch) -> None:
        """``batch``: the Arrow rows ``prepared`` was made of (profiling.profile_file's ``on_batch``)."""
        cfg = self.config
        if batch.schema.get_field_index(cfg.columns.id) < 0:
            return
        h1, h2, valid = id_keys(batch.column(cfg.columns.id))
        cols: dict[str, Any] = {"h1": h1, "h2": h2, "ws": prepared.window_start.astype(np.int64)}
        has_pred = batch.schema.get_field_index(cfg.columns.prediction) >= 0
        pred = batch.column(cfg.columns.prediction) if has_pred else None
        if cfg.task == "regression":
            cols["pred"] = pa.array(to_numeric(pred).values if pred is not None else np.full(batch.num_rows, np.nan))
        else:
            cols["pred"] = to_category(pred) if pred is not None else pa.nulls(batch.num_rows, pa.string())
        score = None
        if cfg.columns.score and batch.schema.get_field_index(cfg.columns.score) >= 0:
            score = to_numeric(batch.column(cfg.columns.score)).values
        cols["score"] = score if score is not None else np.full(batch.num_rows, np.nan)
        for seg, codes in prepared.segments.items():
            cols[f"seg:{seg}"] = codes.astype(np.int32)
        for col, codes in prepared.fairness.items():  # the sensitive group's code (of the baseline's groups)
            cols[f"fg:{col}"] = codes.astype(np.int32)
        if cfg.scenarios:  # the scenarios each row is in (bit i: cfg.scenarios[i]), under the list's fingerprint
            bits = np.zeros(batch.num_rows, np.int64)
            for i, s in enumerate(cfg.scenarios):
                bits |= prepared.scenarios[s.name].astype(np.int64) << i
            cols["sc"] = bits
            cols["sck"] = np.full(batch.num_rows, scenarios_key(cfg.scenarios), np.int64)
        table = pa.table(cols)
        if not valid.all():
            table = table.filter(pa.array(valid))
        self.rows += table.num_rows
        self.tables.append(table)

    def pack(self) -> pa.Table:
        """The file's rows, one per id (its first row), sorted by key, the baseline in the schema's metadata."""
        table = pa.concat_tables(self.tables)
        keep = first_of_each(table.column("h1").to_numpy(), table.column("h2").to_numpy())
        return table.take(pa.array(keep)).replace_schema_metadata({"baseline": self.baseline_id})


class _Profiles:
    """Joined rows → performance (and label) profiles, profiled ``LABEL_BATCH`` rows at a time per baseline."""

    def __init__(self, registry: ModelRegistry, model_id: str, config: ModelConfig) -> None:
        self.registry, self.model_id, self.config = registry, model_id, config
        self.pending: dict[str, list[pa.Table]] = {}
        self.out: dict[GroupKey, Profile] = {}
        self.rows = 0

    def add(self, predictions: pa.Table, labels: pa.Array) -> None:
        """``predictions``: rows of one prediction pack; ``labels``: their labels (text)."""
        if not predictions.num_rows:
            return
        bid = (predictions.schema.metadata or {}).get(b"baseline", b"").decode()
        self.rows += predictions.num_rows
        rows = predictions.drop_columns(["h1", "h2"]).append_column("__label", labels)
        self.pending.setdefault(bid, []).append(rows.replace_schema_metadata(None))
        if sum(t.num_rows for t in self.pending[bid]) >= LABEL_BATCH:
            self._flush(bid)

    def _flush(self, bid: str) -> None:
        tables = self.pending.pop(bid, [])
        if not tables:
            return
        cfg, label = self.config, self.config.columns.label or "label"
        baseline = self.registry.baseline(self.model_id, bid)
        joined = pa.concat_tables(tables, promote_options="permissive")
        data: dict[str, Any] = {
            cfg.columns.timestamp: pa.array(joined.column("ws").to_numpy().astype(np.float64)),
            label: joined.column("__label"),
            cfg.columns.prediction: joined.column("pred"),
        }
        if cfg.columns.score:
            data[cfg.columns.score] = joined.column("score")
        for seg, values in baseline.spec.segments.items():
            if f"seg:{seg}" in joined.column_names:  # the code back to its value (the last code: any other)
                codes = joined.column(f"seg:{seg}").to_numpy()
                data[seg] = pa.array([*values, None], pa.string()).take(pa.array(codes))
        for col in baseline.spec.fairness_groups:
            if f"fg:{col}" in joined.column_names:
                data[GROUP_CODE_PREFIX + col] = joined.column(f"fg:{col}").cast(pa.int64())
        if cfg.scenarios and "sc" in joined.column_names:  # bits kept under another scenario list count for none
            same = pc.equal(joined.column("sck"), scenarios_key(cfg.scenarios))
            data[SCENARIO_BITS] = pc.if_else(pc.fill_null(same, False), joined.column("sc"), 0)
        batch = pa.RecordBatch.from_pydict(
            {k: v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v for k, v in data.items()}
        )
        builder = ProfileBuilder(cfg, baseline.spec, bid)
        builder.add(BatchPreparer(cfg, baseline.spec).prepare(batch))
        for key, p in builder.result().items():
            prof = Profile(
                bid,
                performance=p.performance,
                numeric={k: v for k, v in p.numeric.items() if k == label},
                categorical={k: v for k, v in p.categorical.items() if k == label},
            )
            self.out[key] = self.out[key].merge(prof) if key in self.out else prof

    def result(self) -> dict[GroupKey, Profile]:
        for bid in list(self.pending):
            self._flush(bid)
        return self.out


class LabelService:
    """The label join: ``join_labels`` for a label file, ``join_predictions`` for a prediction file with ids."""

    def __init__(self, store: Store, registry: ModelRegistry) -> None:
        self.store = store
        self.registry = registry
        self.objects = registry.objects

    # -- shared --------------------------------------------------------------------------------------------------

    def _put(self, model_id: str, kind: str, file_id: str, table: pa.Table) -> None:
        # Intelligent-Tiering: a pack not read for 30 days (most of them, once their labels came) costs about half
        self.objects.put_bytes(_prefix(model_id, kind) + file_id, encode_pack(table), storage_class=STORAGE_CLASS)

    def _read(self, model_id: str, kind: str, file_id: str, h1: np.ndarray) -> pa.Table | None:
        """The pack's rows in the buckets of ``h1``; None if it expired (S3's lifecycle, a day or two before
        DynamoDB's TTL removes its log entry)."""
        buckets = np.unique(bucket_of(h1)).tolist()
        try:
            return read_pack(_prefix(model_id, kind) + file_id, buckets, self.objects.get_bytes, self.objects.get_range)
        except NotFound:
            return None

    def _place(self, model_id: str, kind: str, file_id: str, windows: list[int] | None) -> int:
        """This file's position in the join log: taken now, or found (a retry keeps its place). The file's item
        (``Store.join_file``) is written before the place is taken, so a prediction file that reads the label
        files sees every label file that may have a place before its own."""
        rec = self.store.join_file(model_id, kind, file_id)
        if rec is not None and rec.position is not None:
            return rec.position
        at = self.store.clock() if rec is None else rec.at
        if rec is None:
            self.store.put_join_file(model_id, kind, file_id, position=None, at=at)
        else:  # an attempt that died between taking its place and recording it: look for it (rare, a full read)
            found = self.store.join_log(model_id).position_of(file_id)
            if found is not None:
                self.store.put_join_file(model_id, kind, file_id, position=found, at=at)
                return found
        for _ in range(1000):
            last = self.store.last_join_position(model_id)
            pos = 0 if last is None else last + 1
            if self.store.append_join_entry(model_id, pos, kind=kind, file_id=file_id, windows=windows):
                self.store.put_join_file(model_id, kind, file_id, position=pos, at=at)
                return pos
        raise NotReadyError(f"model {model_id!r}: the label join's log is contended; retrying later")

    # -- a label file --------------------------------------------------------------------------------------------

    def join_labels(self, ref: ObjectRef, file_id: str) -> tuple[dict[GroupKey, Profile], dict[str, Any]]:
        """Profiles of the pairs this label file completes, and its counts (rows, matched, unknown_ids,
        duplicate_ids, rows_without_id). Raises InputError when the file cannot be used."""
        model_id = ref.model_id
        config = self.registry.config(model_id)
        if not config.columns.label:
            raise InputError("the model's configuration has no label column", key=ref.key)
        mine, rows, missing_id = self._read_label_file(ref, config)
        self._put(model_id, "l", file_id, mine.select(["h1", "h2", "label"]))
        h1, h2 = mine.column("h1").to_numpy(), mine.column("h2").to_numpy()
        ws = mine.column("ws").to_numpy()
        pos = self._place(model_id, "L", file_id, _listed(ws))
        log = self.store.join_log(model_id, end=pos - 1) if pos else JoinLog((), {})
        open_ = np.ones(len(h1), bool)  # won and not matched yet
        duplicate = int(rows - missing_id - len(h1))  # repeated within the file
        earlier = self._in_retention(log.entries)
        for e in (e for e in earlier if e.kind == "L"):  # the label files whose labels' windows meet ours
            idx = np.flatnonzero(open_ & _in_windows(ws, e))
            if not len(idx):
                continue
            other = self._read(model_id, "l", e.file_id, h1[idx])
            if other is None:
                continue
            hit = lookup(_u64(other, "h1"), _u64(other, "h2"), h1[idx], h2[idx]) >= 0
            open_[idx[hit]] = False
            duplicate += int(hit.sum())
        won = int(open_.sum())
        profiles = _Profiles(self.registry, model_id, config)
        labels = mine.column("label")
        for e in (e for e in earlier if e.kind == "P"):
            idx = np.flatnonzero(open_ & _in_windows(ws, e))
            if len(idx):
                self._complete(model_id, e, h1, h2, idx, labels, open_, profiles)
        unmatched = np.flatnonzero(open_)
        if len(unmatched):
            self._put(model_id, "u", file_id, mine.select(["h1", "h2", "label"]).take(pa.array(unmatched)))
        rws = _listed(ws[unmatched])
        self.store.put_join_result(
            JoinResult(pos, "L", file_id, len(unmatched), None if rws is None else tuple(rws)), model_id=model_id
        )
        details = {
            "rows": rows,
            "matched": won - len(unmatched),
            "unknown_ids": len(unmatched),
            "duplicate_ids": duplicate,
            "rows_without_id": missing_id,
        }
        return profiles.result(), details

    def _complete(
        self,
        model_id: str,
        entry: JoinEntry,
        h1: np.ndarray,
        h2: np.ndarray,
        idx: np.ndarray,
        labels: pa.ChunkedArray,
        open_: np.ndarray,
        profiles: _Profiles,
    ) -> None:
        """Join the rows ``idx`` of a label pack to one prediction pack; the matched rows close."""
        preds = self._read(model_id, "p", entry.file_id, h1[idx])
        if preds is None:
            return
        at = lookup(_u64(preds, "h1"), _u64(preds, "h2"), h1[idx], h2[idx])
        hit = at >= 0
        if not hit.any():
            return
        rows = idx[hit]
        open_[rows] = False
        profiles.add(preds.take(pa.array(at[hit])), labels.take(pa.array(rows)))

    def _read_label_file(self, ref: ObjectRef, config: ModelConfig) -> tuple[pa.Table, int, int]:
        """The file's first row of each id, sorted by key: h1, h2, ws (NO_WINDOW without a valid event time),
        label (text); and the rows read and the rows without an id."""
        cols = config.columns
        assert cols.label
        rows = missing_id = 0
        parts: list[pa.Table] = []
        for batch in iter_batches(
            self.registry.open_data(ref.key),
            name=ref.key,
            columns=[cols.id, cols.label, cols.timestamp],
            string_columns=[cols.id],
            batch_rows=LABEL_BATCH,
        ):
            for col in (cols.id, cols.label):
                if batch.schema.get_field_index(col) < 0:
                    raise InputError(f"required column {col!r} not found in the label file", key=ref.key)
            rows += batch.num_rows
            h1, h2, valid = id_keys(batch.column(cols.id))
            missing_id += int((~valid).sum())
            ws = np.full(batch.num_rows, NO_WINDOW, np.int64)
            if batch.schema.get_field_index(cols.timestamp) >= 0:
                t = to_epoch_seconds(batch.column(cols.timestamp))
                ok = ~(t.missing | t.type_error) & np.isfinite(t.values)
                width = config.window_seconds
                ws[ok] = (np.floor(t.values[ok] / width) * width).astype(np.int64)
            label = to_category(batch.column(cols.label))
            table = pa.table({"h1": h1, "h2": h2, "ws": ws, "label": label})
            parts.append(table if valid.all() else table.filter(pa.array(valid)))
        if rows == 0:
            raise InputError("the file holds no rows", key=ref.key)
        table = pa.concat_tables(parts) if parts else pa.table({})
        if table.num_rows == 0:
            raise InputError(f"no row has an id in column {cols.id!r}", key=ref.key)
        keep = first_of_each(table.column("h1").to_numpy(), table.column("h2").to_numpy())
        return table.take(pa.array(keep)), rows, missing_id

    # -- a prediction file ---------------------------------------------------------------------------------------

    def join_predictions(self, model_id: str, file_id: str, ids: PredictionIds) -> tuple[dict[GroupKey, Profile], int]:
        """Store the file's pack and place it in the log; profiles of the labels that came before it (and were
        not joined since), and how many."""
        config = self.registry.config(model_id)
        pack = ids.pack()
        self._put(model_id, "p", file_id, pack)
        h1, h2 = _u64(pack, "h1"), _u64(pack, "h2")
        windows = np.unique(pack.column("ws").to_numpy()).tolist()
        pos = self._place(model_id, "P", file_id, windows if len(windows) <= MAX_LISTED_WINDOWS else None)
        mine = set(windows)
        label_files = self._settled(
            model_id, [f for f in self.store.join_files(model_id, "L") if f.position is None or f.position < pos]
        )
        labels: list[tuple[int, pa.Table, np.ndarray]] = []  # (label file position, its rows, our rows) per hit
        for f in label_files:
            r = f.result
            if r is None or not r.count or (r.windows is not None and not mine.intersection(r.windows)):
                continue
            unmatched = self._read(model_id, "u", f.file_id, h1)
            if unmatched is None:
                continue
            at = lookup(h1, h2, _u64(unmatched, "h1"), _u64(unmatched, "h2"))
            if (at >= 0).any():
                labels.append((r.position, unmatched.filter(pa.array(at >= 0)), at[at >= 0]))
        taken = np.zeros(len(h1), bool)  # our rows given to a label (set once: unmatched packs are disjoint)
        for _, _, ours in labels:
            taken[ours] = True
        if labels:  # drop those a prediction file between the label file and us completed already
            first = min(p for p, _, _ in labels)
            between = self.store.join_log(model_id, start=first + 1, end=pos - 1)
            for e in self._in_retention(between.entries):
                r = between.results.get(e.position)
                if e.kind != "P":
                    continue
                if r is None and e.at > self.store.clock() - STALE_S:
                    raise NotReadyError(
                        f"model {model_id!r}: prediction file {e.file_id} (join position {e.position}) is still "
                        "being joined; retrying later"
                    )
                if r is not None and r.count:
                    consumed = self._read(model_id, "c", e.file_id, h1)
                    if consumed is not None:
                        at = lookup(_u64(consumed, "h1"), _u64(consumed, "h2"), h1, h2)
                        taken[at >= 0] = False
        profiles = _Profiles(self.registry, model_id, config)
        for _, rows, ours in labels:
            keep = taken[ours]
            if keep.any():
                profiles.add(pack.take(pa.array(ours[keep])), rows.column("label").filter(pa.array(keep)))
        consumed_rows = np.flatnonzero(taken)
        if len(consumed_rows):
            self._put(model_id, "c", file_id, pack.select(["h1", "h2"]).take(pa.array(consumed_rows)))
        self.store.put_join_result(JoinResult(pos, "P", file_id, len(consumed_rows), None), model_id=model_id)
        return profiles.result(), len(consumed_rows)

    def _in_retention(self, entries: tuple[JoinEntry, ...]) -> list[JoinEntry]:
        """Entries still in retention (DynamoDB's TTL deletes expired items up to days late)."""
        oldest = self.store.clock() - self.store.id_ttl
        return [e for e in entries if e.at >= oldest]

    def _settled(self, model_id: str, files: list[JoinFile]) -> list[JoinFile]:
        """``files`` (label files placed before a prediction file, or being placed), once each has its result;
        NotReadyError while one has not (unless stale: dead-lettered, see STALE_S)."""
        now = self.store.clock()
        files = [f for f in files if f.at >= now - self.store.id_ttl]
        waiting = [f for f in files if f.result is None and f.at > now - STALE_S]
        if waiting:
            raise NotReadyError(
                f"model {model_id!r}: {len(waiting)} label file(s) placed before this prediction file not joined yet "
                f"(first: {waiting[0].file_id}); retrying later"
            )
        return [f for f in files if f.result is not None]


def _u64(table: pa.Table, name: str) -> np.ndarray:
    """A key column (h1 or h2) as numpy."""
    return np.asarray(table.column(name).to_numpy())


def _listed(ws: np.ndarray) -> list[int] | None:
    """The distinct windows of labels, listed when few and all known (None: search everywhere)."""
    listed = np.unique(ws)
    if (listed == NO_WINDOW).any() or len(listed) > MAX_LISTED_WINDOWS:
        return None
    return [int(w) for w in listed]


def _in_windows(ws: np.ndarray, entry: JoinEntry) -> np.ndarray:
    if entry.windows is None:
        return np.ones(len(ws), bool)
    return np.asarray((ws == NO_WINDOW) | np.isin(ws, np.asarray(entry.windows, np.int64)))
