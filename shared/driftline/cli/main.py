"""The ``driftline`` command (SPEC §5)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from driftline.core import catalogue
from driftline.core.config import parse_duration
from driftline.core.errors import ConfigError, DriftlineError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """ISO-8601 (``2026-11-23``, ``2026-11-23T04:00:00Z``) or epoch seconds → epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use ISO-8601 or epoch seconds)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def time_range(args: argparse.Namespace, *, default: str = "24h") -> tuple[int, int]:
    now = time.time()
    if getattr(args, "from_", None) or getattr(args, "to", None):
        start = parse_time(args.from_) if args.from_ else now - parse_duration(default)
        end = parse_time(args.to) if args.to else now
    else:
        start, end = now - parse_duration(args.since or default), now
    return int(start), int(end) + 1


# -- AWS-facing commands -----------------------------------------------------------------------------------------


def _container(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from driftline.cli.stack import resolve_settings
    from driftline.runtime.container import Container

    return Container(resolve_settings(args))


def cmd_model_validate(args: argparse.Namespace) -> int:
    from driftline.core.config import load_config_file

    config = load_config_file(args.config)  # a ConfigError prints every error and exits 1 (see main)
    print(f"OK {config.model_id} ({config.task}, {len(config.features)} features, window {config.window})")
    return EXIT_OK


def cmd_model_put(args: argparse.Namespace) -> int:
    from driftline.core.config import load_config_file

    config = load_config_file(args.config)  # validated before anything is uploaded
    c = _container(args)
    key = f"models/{config.model_id}/config.yaml"
    c.objects.put_bytes(key, Path(args.config).read_bytes(), content_type="application/yaml")
    print(f"put s3://{c.settings.bucket}/{key}")
    return EXIT_OK


def cmd_baseline_create(args: argparse.Namespace) -> int:
    from driftline.cli.baseline_upload import combine_reference

    c = _container(args)
    data = combine_reference(args.files, progress=not args.quiet)
    key = f"baselines/{args.model}/{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.parquet"
    c.objects.put_bytes(key, data, content_type="application/vnd.apache.parquet")
    print(f"put s3://{c.settings.bucket}/{key} ({len(data):,} bytes); the baseline function builds it on arrival")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    c = _container(args)
    at = parse_time(args.at) if args.at else None
    report = c.evaluate.evaluate(args.model, at=at)
    print(
        json.dumps(
            {
                "model_id": report.model_id,
                "windows": [_iso(w) for w in report.windows],
                "points": report.points,
                "alerts": [a.payload() for a in report.alerts],
                "errors": report.errors,
            },
            indent=2,
        )
    )
    return EXIT_OK if not report.errors else EXIT_FAIL


def cmd_metrics(args: argparse.Namespace) -> int:
    c = _container(args)
    start, end = time_range(args)
    spec = catalogue.spec_for(args.metric) if args.metric else None
    model_level = spec is not None and spec.level == "model"
    per_group = spec is not None and spec.level == "fairness_group" and not args.segment  # every group's
    if args.metric and (args.column or model_level) and not per_group:
        # one metric's series: one Query on its partition
        points = c.store.series(args.model, args.metric, args.column, args.segment, start=start, end=end)
    else:
        points = [
            p
            for p in c.store.points(args.model, start=start, end=end)
            if (not args.metric or p.metric == args.metric)
            and (not args.column or p.column == args.column)
            and (
                p.segment == args.segment
                if args.segment
                else (args.all_segments or args.format != "table" or p.segment is None)
            )
        ]
    points.sort(key=lambda p: (p.window_start, p.metric, p.column or "", p.segment or ""))
    emit_points(points, args.format)
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    c = _container(args)
    start, end = time_range(args, default="7d")
    rows = []
    for item in c.store.alert_history(args.model, start=start, end=end):
        payload = json.loads(item["alert"])
        payload["published"] = bool(item.get("published"))
        rows.append(payload)
    emit(
        rows,
        args.format,
        ["window_start", "state", "severity", "rule", "metric", "column", "segment", "value", "threshold"],
    )
    return EXIT_OK


def cmd_errors(args: argparse.Namespace) -> int:
    c = _container(args)
    rows = [{"at": _iso(float(i["at"])), "key": i["key"], "reason": i["reason"]} for i in c.store.errors(args.model)]
    emit(rows, args.format, ["at", "key", "reason"])
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from driftline.cli.report import render_report

    c = _container(args)
    start, end = time_range(args, default="7d")
    html = render_report(c, args.model, start=start, end=end)
    Path(args.out).write_text(html, encoding="utf-8")
    print(f"wrote {args.out} ({len(html):,} bytes)")
    return EXIT_OK


# -- no AWS ------------------------------------------------------------------------------------------------------


def cmd_profile(args: argparse.Namespace) -> int:
    from driftline.core.config import load_config_file
    from driftline.core.metrics import window_points
    from driftline.services.profiling import build_baseline, profile_file

    config = load_config_file(args.config)
    baseline = build_baseline(config, [(args.baseline, lambda: args.baseline)], created_at=_iso(time.time()))
    result = profile_file(args.file, name=args.file, config=config, baseline=baseline)
    points = []
    for (ws, seg), prof in sorted(result.profiles.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        points += window_points(prof, baseline, config, window_start=ws, segment=seg)
    emit_points(points, args.format)
    return EXIT_OK


def cmd_local_up(args: argparse.Namespace) -> int:
    from driftline.cli.local.cloud import serve

    return serve(port=args.port, tick=args.tick, host=args.host)


def cmd_demo(args: argparse.Namespace) -> int:
    from driftline.cli.demo import run_demo

    return run_demo(out=args.out, hours=args.hours, seed=args.seed)


# -- output ------------------------------------------------------------------------------------------------------


POINT_TABLE_COLUMNS = ("window_start", "metric", "column", "segment", "value", "rows", "partial")


def emit_points(points: Sequence[Any], fmt: str) -> None:
    """Metric points as SPEC §5's JSON objects (or a table / CSV of the same)."""
    emit([p.to_json_dict() for p in points], fmt, POINT_TABLE_COLUMNS)


def emit(rows: list[dict[str, Any]], fmt: str, table_cols: Sequence[str], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        cols = list(rows[0]) if rows else list(table_cols)
        w = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, dict | list | bool) else v) for k, v in r.items()})
    else:
        out.write(format_table(rows, table_cols))


def format_table(rows: list[dict[str, Any]], cols: Sequence[str]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    buf = io.StringIO()
    buf.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        buf.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    if not rows:
        buf.write("(none)\n")
    return buf.getvalue()


# -- parser ------------------------------------------------------------------------------------------------------


def _aws_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("AWS")
    g.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="also AWS_ENDPOINT_URL")
    g.add_argument("--region", default=None, help="also AWS_REGION / AWS_DEFAULT_REGION")
    g.add_argument("--stack", default=None, help="read bucket, table and topic from this stack's outputs")
    g.add_argument("--bucket", default=os.environ.get("DRIFTLINE_BUCKET"), help="also DRIFTLINE_BUCKET")
    g.add_argument("--table", default=os.environ.get("DRIFTLINE_TABLE"), help="also DRIFTLINE_TABLE")
    g.add_argument("--topic-arn", default=os.environ.get("DRIFTLINE_TOPIC_ARN"), help="also DRIFTLINE_TOPIC_ARN")


def _range_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", default=None, help="how far back, e.g. 24h, 7d (default 24h)")
    p.add_argument("--from", dest="from_", default=None, help="start time (ISO-8601 or epoch seconds)")
    p.add_argument("--to", default=None, help="end time (ISO-8601 or epoch seconds)")


def _format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description="Serverless monitoring for ML models on AWS.")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="the embedded local cloud").add_subparsers(dest="local_cmd", required=True)
    up = local.add_parser("up", help="serve an AWS endpoint on 127.0.0.1 with Driftline deployed on it")
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--tick", type=float, default=None, help="evaluator period in seconds (default: the template's)")
    up.set_defaults(func=cmd_local_up)

    demo = sub.add_parser("demo", help="the main job, end to end, on the embedded local cloud")
    demo.add_argument("--out", default="driftline-report.html")
    demo.add_argument("--hours", type=int, default=24)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    model = sub.add_parser("model", help="model configurations").add_subparsers(dest="model_cmd", required=True)
    mv = model.add_parser("validate", help="check a configuration file; prints OK or every error")
    mv.add_argument("config")
    mv.set_defaults(func=cmd_model_validate)
    mp = model.add_parser("put", help="validate, then upload to models/<model_id>/config.yaml")
    mp.add_argument("config")
    _aws_options(mp)
    mp.set_defaults(func=cmd_model_put)

    baseline = sub.add_parser("baseline", help="baselines").add_subparsers(dest="baseline_cmd", required=True)
    bc = baseline.add_parser("create", help="upload reference data (one or more files) as the model's baseline")
    bc.add_argument("--model", required=True)
    bc.add_argument("files", nargs="+")
    bc.add_argument("--quiet", action="store_true")
    _aws_options(bc)
    bc.set_defaults(func=cmd_baseline_create)

    ev = sub.add_parser("evaluate", help="run the evaluator now")
    ev.add_argument("--model", required=True)
    ev.add_argument("--at", default=None, help="evaluate as if now were this time")
    _aws_options(ev)
    ev.set_defaults(func=cmd_evaluate)

    me = sub.add_parser("metrics", help="metric time series")
    me.add_argument("--model", required=True)
    me.add_argument("--metric")
    me.add_argument("--column")
    me.add_argument("--segment", help='"<column>=<value>"')
    me.add_argument("--all-segments", action="store_true", help="table format: include segments")
    _range_options(me)
    _format_option(me)
    _aws_options(me)
    me.set_defaults(func=cmd_metrics)

    al = sub.add_parser("alerts", help="alert history")
    al.add_argument("--model", required=True)
    _range_options(al)
    _format_option(al)
    _aws_options(al)
    al.set_defaults(func=cmd_alerts)

    er = sub.add_parser("errors", help="files that could not be processed, and why")
    er.add_argument("--model", required=True)
    _format_option(er)
    _aws_options(er)
    er.set_defaults(func=cmd_errors)

    rp = sub.add_parser("report", help="a self-contained HTML report")
    rp.add_argument("--model", required=True)
    rp.add_argument("--out", required=True)
    _range_options(rp)
    _aws_options(rp)
    rp.set_defaults(func=cmd_report)

    pr = sub.add_parser("profile", help="no AWS: one file's metrics against a baseline built from a reference file")
    pr.add_argument("file")
    pr.add_argument("--config", required=True)
    pr.add_argument("--baseline", required=True, help="the reference data file")
    pr.add_argument("--format", choices=("table", "json", "csv"), default="json")
    pr.set_defaults(func=cmd_profile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as err:
        print(f"driftline: invalid configuration{' ' + err.source if err.source else ''}:", file=sys.stderr)
        for e in err.errors:
            print(f"  - {e}", file=sys.stderr)
        return EXIT_FAIL
    except DriftlineError as err:
        print(f"driftline: {err}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
