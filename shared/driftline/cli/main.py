"""The ``driftline`` command (SPEC §5).

Over 400 lines: the command line's parser: one subcommand per function, each a few lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline import __version__
from driftline.cli.lookup import parse_time
from driftline.cli.output import POINT_TABLE_COLUMNS, emit, emit_points, format_table  # noqa: F401 - re-exported
from driftline.cli.stack import UsageError
from driftline.core import catalogue
from driftline.core.config import parse_duration
from driftline.core.errors import ConfigError, DriftlineError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEFAULT_PORT = 4566


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(text: str, *, flag: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise UsageError(f"{flag}: {err}") from None


def time_range(args: argparse.Namespace, *, default: str = "24h") -> tuple[int, int]:
    now = time.time()
    if getattr(args, "from_", None) or getattr(args, "to", None):
        start = parse_time(args.from_, flag="--from") if args.from_ else now - duration(default, flag="--since")
        end = parse_time(args.to, flag="--to") if args.to else now
        if start >= end:
            raise UsageError(f"--from {_iso(start)} is not before --to {_iso(end)}")
    else:
        start, end = now - duration(args.since or default, flag="--since"), now
    return int(start), int(end) + 1


# -- AWS-facing commands -----------------------------------------------------------------------------------------


def _container(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from driftline.cli.stack import container_for

    return container_for(args)


def _model_config(c: Any, model_id: str) -> Any:
    """The model's configuration, or None when it has none (its points, if any, are still shown)."""
    try:
        return c.registry.config(model_id)
    except DriftlineError:
        return None


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
    at = parse_time(args.at, flag="--at") if args.at else None
    c = _container(args)
    from driftline.cli.lookup import check_model

    check_model(c.store, args.model)
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
    from driftline.cli.lookup import check_column, check_metric, check_model, check_segment

    start, end = time_range(args)
    c = _container(args)
    check_model(c.store, args.model)
    spec = catalogue.spec_for(args.metric) if args.metric else None
    model_level = spec is not None and spec.level == "model"
    per_group = spec is not None and spec.level == "fairness_group" and not args.segment  # every group's
    one_segment = bool(args.segment) or (args.format == "table" and not args.all_segments)
    segments = [args.segment] if one_segment else _segment_names(c, args.model)
    if args.metric and (args.column or model_level) and segments is not None and not per_group:
        # one metric's series, for the population and each segment: one Query per partition
        points = [
            p
            for segment in segments
            for p in c.store.series(args.model, args.metric, args.column, segment, start=start, end=end)
        ]
    else:
        points = [
            p
            for p in c.store.points(args.model, start=start, end=end)
            if (not args.metric or p.metric == args.metric)
            and (not args.column or p.column == args.column)
            and (
                p.segment == args.segment
                if args.segment
                else (args.all_segments or per_group or args.format != "table" or p.segment is None)
            )
        ]
    if not points:  # an empty answer: say so if a name is wrong (names with points are right, whatever they are)
        config = _model_config(c, args.model)
        check_metric(args.metric, config)
        check_column(args.column, config)
        check_segment(args.segment, config)
    points.sort(key=lambda p: (p.window_start, p.metric, p.column or "", p.segment or ""))
    emit_points(points, args.format)
    return EXIT_OK


def _segment_names(c: Any, model_id: str) -> list[str | None] | None:
    """The population and every segment a series can have: the current baseline's segment values (fixed when it
    was built, the catch-all included) and the configured scenarios; None when they cannot be known."""
    try:
        baseline = c.registry.current_baseline(model_id)
        config = c.registry.config(model_id)
    except DriftlineError:
        return None
    if getattr(config, "fairness", None):  # fairness groups are segments of their own: not listed here
        return None
    names: list[str | None] = [None]
    for column in baseline.spec.segments:
        names += baseline.spec.segment_labels(column)
    names += [f"scenario:{sc.name}" for sc in getattr(config, "scenarios", ()) or ()]
    return names


def cmd_alerts(args: argparse.Namespace) -> int:
    from driftline.cli.lookup import check_model

    start, end = time_range(args, default="7d")
    c = _container(args)
    check_model(c.store, args.model, allow_unconfigured=True)
    rows = [record.listed() for record in c.store.alert_history(args.model, start=start, end=end)]
    emit(
        rows,
        args.format,
        ["window_start", "state", "severity", "rule", "metric", "column", "segment", "value", "threshold"],
    )
    return EXIT_OK


def cmd_errors(args: argparse.Namespace) -> int:
    from driftline.cli.lookup import check_model

    c = _container(args)
    check_model(c.store, args.model, allow_unconfigured=True)
    rows = [{"at": _iso(e.at), "key": e.key, "reason": e.reason} for e in c.store.error_records(args.model)]
    emit(rows, args.format, ["at", "key", "reason"])
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from driftline.cli.lookup import check_model
    from driftline.cli.report import render_report

    start, end = time_range(args, default="7d")
    c = _container(args)
    check_model(c.store, args.model, allow_unconfigured=True)
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


def require_local_extra() -> None:
    """``local up`` and ``demo`` run moto's server: without the ``local`` extra, one line and exit 1."""
    import importlib.util

    missing = [m for m in ("moto", "flask", "flask_cors") if importlib.util.find_spec(m) is None]
    if missing:
        raise DriftlineError(
            f"the local cloud needs the 'local' extra ({', '.join(missing)} not installed): "
            "pip install 'driftline[local]'"
        )


def cmd_local_up(args: argparse.Namespace) -> int:
    require_local_extra()
    from driftline.cli.local.cloud import serve

    return serve(port=args.port, tick=args.tick, host=args.host, pumps=args.pump)


def cmd_demo(args: argparse.Namespace) -> int:
    require_local_extra()
    from driftline.cli.demo import run_demo

    return run_demo(out=args.out, hours=args.hours, seed=args.seed)


# -- parser ------------------------------------------------------------------------------------------------------


AWS_EPILOG = (
    "Where the deployment is: --stack NAME, or --bucket/--table/--topic-arn (or their environment variables); with "
    "none of them, the local cloud that `driftline local up` is serving. Against a local endpoint without AWS "
    "credentials configured, dummy ones are used."
)


def _aws_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("AWS")
    g.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL") or None,
        help="e.g. http://127.0.0.1:4566 (also AWS_ENDPOINT_URL; default: AWS, or the running local cloud)",
    )
    g.add_argument("--region", default=None, help="AWS region (also AWS_REGION / AWS_DEFAULT_REGION)")
    g.add_argument("--stack", default=None, help="read bucket, table and topic from this stack's outputs")
    g.add_argument("--bucket", default=os.environ.get("DRIFTLINE_BUCKET"), help="data bucket (also DRIFTLINE_BUCKET)")
    g.add_argument("--table", default=os.environ.get("DRIFTLINE_TABLE"), help="metrics table (also DRIFTLINE_TABLE)")
    g.add_argument(
        "--topic-arn", default=os.environ.get("DRIFTLINE_TOPIC_ARN"), help="alerts topic (also DRIFTLINE_TOPIC_ARN)"
    )


def _range_options(p: argparse.ArgumentParser, *, default: str = "24h") -> None:
    p.add_argument("--since", default=None, help=f"how far back, e.g. 24h, 7d (default {default})")
    p.add_argument("--from", dest="from_", metavar="TIME", default=None, help="start time (ISO-8601 or epoch seconds)")
    p.add_argument("--to", metavar="TIME", default=None, help="end time (ISO-8601 or epoch seconds; default now)")


def _format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format (default: %(default)s)"
    )


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the model id (models/<model_id>/config.yaml)")


def _sub(sub: Any, name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help, **kwargs)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description="Serverless monitoring for ML models on AWS.")
    parser.add_argument("--version", action="version", version=f"driftline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = _sub(sub, "local", "the embedded local cloud").add_subparsers(
        dest="local_cmd", required=True, metavar="COMMAND"
    )
    up = _sub(local, "up", "serve an AWS endpoint with Driftline deployed on it (needs the 'local' extra)")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s; 0.0.0.0 lets a container reach it, see `local sam-env`)",
    )
    up.add_argument(
        "--tick", type=float, default=None, help="evaluator period in seconds, 0: never (default: the template's)"
    )
    up.add_argument(
        "--no-pump",
        dest="pump",
        action="store_false",
        help="leave S3 notifications in the queues: the functions run only when invoked (`sam local invoke`)",
    )
    up.set_defaults(func=cmd_local_up)
    from driftline.cli.sam import add_sam_commands

    add_sam_commands(local, _sub)

    demo = _sub(sub, "demo", "the main job, end to end, on the embedded local cloud (needs the 'local' extra)")
    demo.add_argument("--out", default="driftline-report.html", help="the HTML report (default: %(default)s)")
    demo.add_argument("--hours", type=int, default=24, help="hours of prediction logs (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the generated data (default: %(default)s)")
    demo.set_defaults(func=cmd_demo)

    model = _sub(sub, "model", "model configurations").add_subparsers(
        dest="model_cmd", required=True, metavar="COMMAND"
    )
    mv = _sub(model, "validate", "check a configuration file; prints OK or every error")
    mv.add_argument("config", help="the configuration file (YAML)")
    mv.set_defaults(func=cmd_model_validate)
    mp = _sub(model, "put", "validate, then upload to models/<model_id>/config.yaml", epilog=AWS_EPILOG)
    mp.add_argument("config", help="the configuration file (YAML)")
    _aws_options(mp)
    mp.set_defaults(func=cmd_model_put)

    baseline = _sub(sub, "baseline", "baselines").add_subparsers(dest="baseline_cmd", required=True, metavar="COMMAND")
    bc = _sub(
        baseline, "create", "upload reference data (one or more files) as the model's baseline", epilog=AWS_EPILOG
    )
    _model_option(bc)
    bc.add_argument("files", nargs="+", help="reference data: Parquet, CSV or JSON Lines (optionally .gz)")
    bc.add_argument("--quiet", action="store_true", help="no progress lines")
    _aws_options(bc)
    bc.set_defaults(func=cmd_baseline_create)

    ev = _sub(sub, "evaluate", "run the evaluator now", epilog=AWS_EPILOG)
    _model_option(ev)
    ev.add_argument("--at", default=None, help="evaluate as if now were this time (ISO-8601 or epoch seconds)")
    _aws_options(ev)
    ev.set_defaults(func=cmd_evaluate)

    me = _sub(sub, "metrics", "metric time series", epilog=AWS_EPILOG)
    _model_option(me)
    me.add_argument("--metric", help="a metric name, e.g. drift.jensen_shannon (default: every metric)")
    me.add_argument("--column", help="a monitored column (default: every column)")
    me.add_argument("--segment", help='"<column>=<value>" or "scenario:<name>" (default: see --all-segments)')
    me.add_argument(
        "--all-segments",
        action="store_true",
        help="table format: include every segment (json and csv always list the population and every segment)",
    )
    _range_options(me)
    _format_option(me)
    _aws_options(me)
    me.set_defaults(func=cmd_metrics)

    al = _sub(sub, "alerts", "alert history", epilog=AWS_EPILOG)
    _model_option(al)
    _range_options(al, default="7d")
    _format_option(al)
    _aws_options(al)
    al.set_defaults(func=cmd_alerts)

    er = _sub(
        sub, "errors", "files that could not be processed, and why (dead-lettered ones included)", epilog=AWS_EPILOG
    )
    _model_option(er)
    _format_option(er)
    _aws_options(er)
    er.set_defaults(func=cmd_errors)

    from driftline.cli.status import add_status_commands

    add_status_commands(sub, _sub, _model_option, _format_option, _aws_options, epilog=AWS_EPILOG)

    rp = _sub(sub, "report", "a self-contained HTML report", epilog=AWS_EPILOG)
    _model_option(rp)
    rp.add_argument("--out", required=True, help="the HTML file to write")
    _range_options(rp, default="7d")
    _aws_options(rp)
    rp.set_defaults(func=cmd_report)

    pr = _sub(sub, "profile", "no AWS: one file's metrics against a baseline built from a reference file")
    pr.add_argument("file", help="a prediction log (Parquet, CSV or JSON Lines, optionally .gz)")
    pr.add_argument("--config", required=True, help="the model configuration (YAML)")
    pr.add_argument("--baseline", required=True, help="the reference data file")
    pr.add_argument(
        "--format", choices=("table", "json", "csv"), default="json", help="output format (default: %(default)s)"
    )
    pr.set_defaults(func=cmd_profile)

    from driftline.cli.backfill import add_parser as add_backfill

    add_backfill(sub, _aws_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as err:
        print(f"driftline: invalid configuration{' ' + err.source if err.source else ''}:", file=sys.stderr)
        for e in err.errors:
            print(f"  - {e}", file=sys.stderr)
        return EXIT_FAIL
    except UsageError as err:
        command = " ".join(filter(None, (args.command, getattr(args, f"{args.command}_cmd", None))))
        print(f"driftline {command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except DriftlineError as err:
        print(f"driftline: {err}", file=sys.stderr)
        return EXIT_FAIL
    except EndpointConnectionError as err:
        hint = " (is `driftline local up` running?)" if "127.0.0.1" in str(err) or "localhost" in str(err) else ""
        print(f"driftline: {err}{hint}", file=sys.stderr)
        return EXIT_FAIL
    except (BotoCoreError, ClientError) as err:  # no credentials, access denied, no such table...
        print(f"driftline: {err}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as err:  # a file not found, a port in use
        print(f"driftline: {err}", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
