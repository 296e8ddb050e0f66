"""Metric points (``MET#``), and open windows' early looks and packed partial points (``OPEN#``; SPEC §3, §4)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from driftline.core.metrics import MetricPoint
from driftline.services.ports import Item
from driftline.services.store.base import (
    KEY_EPOCH_OFFSET,
    NONE,
    PARTIAL_TTL,
    StoreBase,
    _join,
    _pack,
    _parts,
    _storable,
    _unpack,
    ws_key,
)
from driftline.services.store.records import OpenWindow


class PointsMixin(StoreBase):
    # -- metrics -----------------------------------------------------------------------------------------------

    def put_points(self, points: Sequence[MetricPoint]) -> None:
        now = int(self.clock())
        items = []
        for p in points:
            col, seg = p.column or NONE, p.segment or NONE
            items.append(
                {
                    "pk": f"MET#{p.model_id}#{p.metric}#{col}#{seg}",
                    "sk": ws_key(p.window_start),
                    "gsi1pk": f"MET#{p.model_id}",
                    "gsi1sk": f"{ws_key(p.window_start)}#{p.metric}#{col}#{seg}",
                    "model_id": p.model_id,
                    "metric": p.metric,
                    "column": p.column,
                    "segment": p.segment,
                    "window_start": p.window_start,
                    "window_end": p.window_end,
                    "value": _storable(p.value),
                    "rows": p.rows,
                    "expires_at": now + self.metrics_ttl,
                }
            )
        self.table.batch_put(items)

    def series(
        self, model_id: str, metric: str, column: str | None, segment: str | None, *, start: int, end: int
    ) -> list[MetricPoint]:
        """One metric's points over [start, end) in one Query."""
        pk = f"MET#{model_id}#{metric}#{column or NONE}#{segment or NONE}"
        closed = [_point(i) for i in self.table.query(pk, sk_from=ws_key(start), sk_to=ws_key(max(end - 1, start)))]
        done = {p.window_start for p in closed}
        partial = [
            p
            for p in self._partial_points(model_id, start=start, end=end)
            if (p.metric, p.column, p.segment) == (metric, column, segment) and p.window_start not in done
        ]
        return sorted(closed + partial, key=lambda p: p.window_start)

    def points(self, model_id: str, *, start: int, end: int) -> Iterator[MetricPoint]:
        """Every point of a model over [start, end), through gsi1, then the partial points of the windows still
        open (``partial=True``; a window whose closed points are written shows those only)."""
        items = self.table.query(
            f"MET#{model_id}", index="gsi1", sk_from=ws_key(start), sk_to=ws_key(max(end - 1, start)) + "#~"
        )
        partial = self._partial_points(model_id, start=start, end=end)
        if not partial:
            return (_point(i) for i in items)
        closed = [_point(i) for i in items]
        done = {p.window_start for p in closed}
        return iter(closed + [p for p in partial if p.window_start not in done])

    # -- open windows: early looks and partial points (SPEC §3, §4) -------------------------------------------------

    def open_window(self, model_id: str, window_start: int) -> OpenWindow:
        """The open window's mark and looks, in one batched read of two small items."""
        sk = ws_key(window_start)
        found = {
            str(i["pk"]): i for i in self.table.batch_get([(f"DIRTY#{model_id}", sk), (f"OPEN#{model_id}", f"L#{sk}")])
        }
        return _open_window(window_start, found.get(f"DIRTY#{model_id}") or {}, found.get(f"OPEN#{model_id}") or {})

    def window_looks(self, model_id: str, window_start: int) -> OpenWindow:
        """The looks made at a window while it was open (none: ``looks == 0``); rows and token are not read."""
        return _open_window(window_start, {}, self.table.get(f"OPEN#{model_id}", f"L#{ws_key(window_start)}") or {})

    def looks_between(self, model_id: str, *, start: int, end: int) -> dict[int, int]:
        """The early looks each window starting in ``[start, end)`` had while it was open (windows with none are
        absent): one Query of the small look records, for the report's thresholds."""
        items = self.table.query(
            f"OPEN#{model_id}", sk_from=f"L#{ws_key(start)}", sk_to=f"L#{ws_key(max(end - 1, start))}"
        )
        out: dict[int, int] = {}
        for i in items:
            looks = int(i.get("looks", 0))
            if looks > 0:
                out[int(str(i["sk"])[2:]) - KEY_EPOCH_OFFSET] = looks
        return out

    def record_look(
        self, model_id: str, window_start: int, *, looks: int, looked_rows: int, checked: str, parts: int | None = None
    ) -> None:
        """Count a look (once its partial points are written — ``parts`` of them — and before it is judged: a crash
        before this leaves the look to the next tick, one after it spends the look's share without judging, which
        only lowers the false-alarm rate) or, with ``looks`` unchanged, the token last checked without a look."""
        values: dict[str, Any] = {
            "looks": looks,
            "looked_rows": looked_rows,
            "checked": checked,
            "expires_at": int(self.clock()) + self.metrics_ttl,  # kept: a window judged again later needs its looks
        }
        if parts is not None:
            values["parts"] = parts
        self.table.add(f"OPEN#{model_id}", f"L#{ws_key(window_start)}", {}, set_values=values)

    def put_partial_points(
        self, model_id: str, window_start: int, window_end: int, points: Sequence[MetricPoint], *, old_parts: int
    ) -> int:
        """Replace the open window's partial points with ``points``: one packed item (a few parts for a very wide
        model) instead of one item per point, so a look costs a few write units, not two per point. Returns the
        number of parts. They are not deleted at the close (a delete costs as much as the write): the closed
        window's points hide them from :meth:`points` and :meth:`series`, and DynamoDB's TTL drops them, free,
        two days after the window ends."""
        sk = ws_key(window_start)
        rows = [[p.metric, p.column, p.segment, p.window_end, _storable(p.value), p.rows] for p in points]
        parts = _parts(_pack(rows))
        pk = f"OPEN#{model_id}"
        expires = window_end + PARTIAL_TTL
        self.table.batch_put(
            [{"pk": pk, "sk": f"P#{sk}#p{i:03d}", "data": d, "parts": len(parts), "expires_at": expires}
             for i, d in enumerate(parts)]
        )  # fmt: skip
        for i in range(len(parts), old_parts):
            self.table.delete(pk, f"P#{sk}#p{i:03d}")
        return len(parts)

    def _partial_points(self, model_id: str, *, start: int, end: int) -> list[MetricPoint]:
        items = self.table.query(
            f"OPEN#{model_id}", sk_from=f"P#{ws_key(start)}", sk_to=f"P#{ws_key(max(end - 1, start))}~"
        )
        by_window: dict[str, list[Item]] = {}
        for i in items:
            by_window.setdefault(str(i["sk"]).split("#")[1], []).append(i)
        out: list[MetricPoint] = []
        for key, parts in by_window.items():
            if len(parts) != int(parts[0]["parts"]):
                continue  # a write in flight
            ws = int(key) - KEY_EPOCH_OFFSET
            for m, c, seg, we, v, r in _unpack(_join(parts)):
                out.append(MetricPoint(model_id, m, c, seg, ws, int(we), float(v), int(r), partial=True))
        return out


def _open_window(window_start: int, mark: Item, look: Item) -> OpenWindow:
    return OpenWindow(
        window_start,
        int(mark.get("rows", 0)),
        None if "seq" not in mark else str(mark["seq"]),
        int(look.get("looks", 0)),
        int(look.get("looked_rows", 0)),
        None if look.get("checked") is None else str(look["checked"]),
        int(look.get("parts", 0)),
    )


def _point(i: Item) -> MetricPoint:
    return MetricPoint(
        str(i["model_id"]),
        str(i["metric"]),
        i.get("column"),
        i.get("segment"),
        int(i["window_start"]),
        int(i["window_end"]),
        float(i["value"]),
        int(i["rows"]),
    )
