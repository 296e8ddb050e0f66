"""The label join's log (``JOIN#``, ``JOINF#``; driftline.services.labels)."""

from __future__ import annotations

from collections.abc import Sequence

from driftline.services.ports import Condition, ConditionFailed, Item
from driftline.services.store.base import StoreBase
from driftline.services.store.records import JoinEntry, JoinFile, JoinLog, JoinResult


class JoinsMixin(StoreBase):
    # -- the label join's log (driftline.services.labels) -------------------------------------------------------

    def join_log(self, model_id: str, *, start: int | None = None, end: int | None = None) -> JoinLog:
        """The entries (and results) of the model's join log at positions ``start`` to ``end`` (inclusive; default:
        all), by position."""
        pk = f"JOIN#{model_id}"
        if end is not None and end < (start or 0):
            return JoinLog((), {})
        lo, hi = f"{start or 0:012d}", "999999999999" if end is None else f"{end:012d}"
        entries = [_join_entry(i) for i in self.table.query(pk, sk_from=lo, sk_to=hi)]
        results = {r.position: r for r in map(_join_result, self.table.query(pk, sk_from=f"R#{lo}", sk_to=f"R#{hi}"))}
        return JoinLog(tuple(entries), results)

    def last_join_position(self, model_id: str) -> int | None:
        last = next(iter(self.table.query(f"JOIN#{model_id}", sk_to="999999999999", reverse=True, limit=1)), None)
        return None if last is None else int(last["sk"])

    def append_join_entry(
        self, model_id: str, position: int, *, kind: str, file_id: str, windows: Sequence[int] | None
    ) -> bool:
        """Take ``position`` for a file (kind ``P`` or ``L``); False when another file took it first."""
        item: Item = {
            "pk": f"JOIN#{model_id}",
            "sk": f"{position:012d}",
            "kind": kind,
            "file_id": file_id,
            "at": self.clock(),
            "expires_at": int(self.clock()) + self.id_ttl,
        }
        if windows is not None:
            item["ws"] = [int(w) for w in windows]
        try:
            self.table.put(item, condition=Condition(absent=True))
            return True
        except ConditionFailed:
            return False

    def join_file(self, model_id: str, kind: str, file_id: str) -> JoinFile | None:
        item = self.table.get(f"JOINF#{model_id}", f"{kind}#{file_id}")
        return None if item is None else _join_file(item)

    def join_files(self, model_id: str, kind: str) -> list[JoinFile]:
        """Every file of ``kind`` in the join (in retention): placed or being placed, with its result if any."""
        return [_join_file(i) for i in self.table.query(f"JOINF#{model_id}", sk_prefix=f"{kind}#")]

    def put_join_file(self, model_id: str, kind: str, file_id: str, *, position: int | None, at: float) -> None:
        item: Item = {"pk": f"JOINF#{model_id}", "sk": f"{kind}#{file_id}", "at": at}
        if position is not None:
            item["pos"] = position
        item["expires_at"] = int(self.clock()) + self.id_ttl
        self.table.put(item)

    def put_join_result(self, result: JoinResult, *, model_id: str) -> None:
        """The result in the log (by position) and on the file's item (by file)."""
        values: Item = {"kind": result.kind, "file_id": result.file_id, "n": result.count}
        if result.windows is not None:
            values["rws"] = [int(w) for w in result.windows]
        expires = int(self.clock()) + self.id_ttl
        self.table.put({"pk": f"JOIN#{model_id}", "sk": f"R#{result.position:012d}", **values, "expires_at": expires})
        self.table.put(
            {
                "pk": f"JOINF#{model_id}",
                "sk": f"{result.kind}#{result.file_id}",
                "pos": result.position,
                "at": self.clock(),
                **values,
                "expires_at": expires,
            }
        )


def _join_entry(i: Item) -> JoinEntry:
    ws = i.get("ws")
    windows = None if ws is None else tuple(int(w) for w in ws)
    return JoinEntry(int(i["sk"]), str(i["kind"]), str(i["file_id"]), windows, float(i.get("at", 0)))


def _join_result(i: Item, position: int | None = None) -> JoinResult:
    rws = i.get("rws")
    pos = int(str(i["sk"]).removeprefix("R#")) if position is None else position
    return JoinResult(pos, str(i["kind"]), str(i["file_id"]), int(i["n"]), None if rws is None else tuple(rws))


def _join_file(i: Item) -> JoinFile:
    kind, file_id = str(i["sk"]).split("#", 1)
    pos = None if i.get("pos") is None else int(i["pos"])
    result = None if i.get("n") is None or pos is None else _join_result({**i, "kind": kind, "file_id": file_id}, pos)
    return JoinFile(kind, file_id, pos, float(i.get("at", 0)), result)
