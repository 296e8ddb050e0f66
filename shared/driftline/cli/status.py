"""``driftline status --model ID`` and ``driftline models``: the operator's first screen (SPEC §5).

What an on-call engineer checks first, read through the store's typed records: the configuration in force (when,
which object version), the baseline (id, rows, when), the last file received and its status, files processing /
failed / dead-lettered, open alarms, windows waiting for the evaluator, and the evaluator's last run with its errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from driftline.cli.output import emit, format_table
from driftline.core.errors import DriftlineError
from driftline.core.metrics import iso_utc


def _when(ts: float | None, now: float) -> str | None:
    return None if ts is None else iso_utc(ts)


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    s = max(now - ts, 0)
    for unit, width in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if s >= width:
            return f"{s / width:.0f}{unit} ago"
    return f"{s:.0f}s ago"


def model_status(c: Any, model_id: str, *, now: float | None = None, baseline_rows: bool = True) -> dict[str, Any]:
    """Everything ``status`` shows, as the JSON object ``--format json`` prints."""
    now = time.time() if now is None else now
    store = c.store
    config = store.config_record(model_id)
    baseline = store.baseline_record(model_id)
    rows = None
    if baseline is not None and baseline_rows:
        try:
            rows = int(c.registry.baseline(model_id, baseline.baseline_id).population.rows)
        except DriftlineError:
            rows = None
    files = store.file_counts(model_id)
    last_status = None
    if files.last_file_id:
        last_file = store.get_file(files.last_file_id)
        last_status = None if last_file is None else last_file.status
    errors = store.error_records(model_id)
    dirty = store.dirty_windows(model_id)
    run = store.last_run(model_id)
    alarms = sorted(store.open_alarms(model_id), key=lambda a: (a.rule, a.column or "", a.segment or ""))
    return {
        "model_id": model_id,
        "configuration": None
        if config is None
        else {
            "key": config.key,
            "version": config.etag,
            "updated_at": _when(config.updated_at, now),
            "task": config.config.get("task"),
            "window": config.config.get("window"),
        },
        "baseline": None
        if baseline is None
        else {"id": baseline.baseline_id, "rows": rows, "created_at": baseline.created_at, "key": baseline.key},
        "last_file": None
        if files.last_key is None
        else {
            "key": files.last_key,
            "kind": files.last_kind,
            "received_at": _when(files.last_at, now),
            "status": last_status,
        },
        "files": {
            "received": files.received,
            "processing": files.processing,
            "done": files.done,
            "failed": files.failed,
            "dead_lettered": max(files.dead_lettered, sum(1 for e in errors if e.kind == "dead_letter")),
            "error_records": len(errors),
            "last_error": None
            if not errors
            else {"at": _when(errors[0].at, now), "key": errors[0].key, "reason": errors[0].reason},
        },
        "open_alarms": [
            {"rule": a.rule, "column": a.column, "segment": a.segment, "since": _when(a.since, now)} for a in alarms
        ],
        "windows_waiting": {
            "count": len(dirty),
            "oldest": _when(dirty[0][0], now) if dirty else None,
        },
        "last_evaluation": None
        if run is None
        else {
            "at": _when(run.at, now),
            "windows": run.windows,
            "windows_left": run.windows_left,
            "errors": list(run.errors),
        },
    }


def render_status(s: dict[str, Any], *, now: float) -> str:
    def at(value: str | None) -> str:
        if value is None:
            return "-"
        from datetime import datetime

        return f"{value} ({_ago(datetime.fromisoformat(value.replace('Z', '+00:00')).timestamp(), now)})"

    lines = [f"model {s['model_id']}"]
    cfg = s["configuration"]
    lines.append(
        "  configuration   "
        + (
            "NONE: put models/<id>/config.yaml"
            if cfg is None
            else f"{cfg['task']}, window {cfg['window']}; "
            f"{cfg['key']} version {cfg['version']}, stored {at(cfg['updated_at'])}"
        )
    )
    b = s["baseline"]
    lines.append(
        "  baseline        "
        + (
            "NONE: drop reference data under baselines/<id>/"
            if b is None
            else f"{b['id']}, "
            f"{'?' if b['rows'] is None else format(b['rows'], ',')} rows, created {at(b['created_at'])}"
        )
    )
    f = s["last_file"]
    lines.append(
        "  last file       "
        + (
            "none received"
            if f is None
            else f"{f['key']} ({f['kind']}), received {at(f['received_at'])}: {f['status']}"
        )
    )
    n = s["files"]
    lines.append(
        f"  files           {n['received']:,} received: {n['done']:,} done, {n['processing']:,} processing, "
        f"{n['failed']:,} failed, {n['dead_lettered']:,} dead-lettered"
    )
    if n["last_error"]:
        e = n["last_error"]
        lines.append(f"  last error      {at(e['at'])} {e['key']}: {e['reason']}  (driftline errors --model ...)")
    alarms = s["open_alarms"]
    lines.append(f"  open alarms     {len(alarms)}")
    for a in alarms[:20]:
        where = " ".join(x for x in (a["column"], a["segment"]) if x)
        lines.append(f"    {a['rule']} {where}".rstrip() + f"  since {at(a['since'])}")
    w = s["windows_waiting"]
    lines.append(f"  windows waiting {w['count']}" + (f" (oldest {w['oldest']})" if w["oldest"] else ""))
    r = s["last_evaluation"]
    if r is None:
        lines.append("  last evaluation never")
    else:
        lines.append(
            f"  last evaluation {at(r['at'])}: {r['windows']} windows evaluated, {r['windows_left']} left, "
            f"{len(r['errors'])} errors"
        )
        lines += [f"    error: {e}" for e in r["errors"]]
    return "\n".join(lines) + "\n"


def cmd_status(args: argparse.Namespace) -> int:
    from driftline.cli.lookup import check_model
    from driftline.cli.stack import container_for

    c = container_for(args)
    check_model(c.store, args.model, allow_unconfigured=True)
    now = time.time()
    status = model_status(c, args.model, now=now)
    if args.format == "json":
        json.dump(status, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_status(status, now=now))
    return 0


MODELS_COLUMNS = (
    "model_id",
    "task",
    "window",
    "config_stored",
    "baseline",
    "last_file",
    "processing",
    "failed",
    "open_alarms",
    "waiting",
    "last_evaluation",
)


def cmd_models(args: argparse.Namespace) -> int:
    from driftline.cli.stack import container_for

    c = container_for(args)
    now = time.time()
    statuses = [model_status(c, m, now=now, baseline_rows=False) for m in c.store.list_models()]
    if args.format == "json":
        json.dump(statuses, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    rows = []
    for s in statuses:
        cfg, b, f, r = s["configuration"] or {}, s["baseline"], s["last_file"], s["last_evaluation"]
        rows.append(
            {
                "model_id": s["model_id"],
                "task": cfg.get("task"),
                "window": cfg.get("window"),
                "config_stored": cfg.get("updated_at"),
                "baseline": None if b is None else b["created_at"],
                "last_file": None if f is None else f"{f['received_at']} {f['status']}",
                "processing": s["files"]["processing"],
                "failed": s["files"]["failed"],
                "open_alarms": len(s["open_alarms"]),
                "waiting": s["windows_waiting"]["count"],
                "last_evaluation": None if r is None else f"{r['at']} ({len(r['errors'])} errors)",
            }
        )
    if args.format == "csv":
        emit(rows, "csv", MODELS_COLUMNS)
    else:
        sys.stdout.write(format_table(rows, MODELS_COLUMNS))
    return 0


def add_status_commands(
    sub: Any,
    new: Callable[..., argparse.ArgumentParser],
    model_option: Callable[[argparse.ArgumentParser], None],
    format_option: Callable[[argparse.ArgumentParser], None],
    aws_options: Callable[[argparse.ArgumentParser], None],
    *,
    epilog: str,
) -> None:
    st = new(
        sub, "status", "one model at a glance: configuration, baseline, files, alarms, the evaluator", epilog=epilog
    )
    model_option(st)
    st.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: %(default)s)")
    aws_options(st)
    st.set_defaults(func=cmd_status)
    ms = new(sub, "models", "every model, one line each (the same facts as status)", epilog=epilog)
    format_option(ms)
    aws_options(ms)
    ms.set_defaults(func=cmd_models)
