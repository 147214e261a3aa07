"""Command-line options shared by bench/throughput.py and bench/suite.py (`make bench`)."""

from __future__ import annotations

import argparse

from bench.stack import EngineConfig, parse_pairs

DEFAULT_DURATION = 30.0  # as ../shared/bench-n8n/run.sh's DURATION
DEFAULT_CONNECTIONS = 16  # as run.sh's CONC
DEFAULT_MAX_RATE = 3000.0  # deliveries made per second of load; wrk stops if it runs out


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the engine's processes")
    group.add_argument("--gunicorn", default="gthread:1x8", help="sync:N or gthread:NxT")
    group.add_argument(
        "--web-nice",
        type=int,
        default=0,
        help="run gunicorn at this niceness (e.g. 10): on one box, the workers' CPU first, so "
        "the web accepts deliveries only as fast as runs finish",
    )
    group.add_argument(
        "--pool",
        default="threads",
        choices=["prefork", "threads", "solo"],
        help="the Celery worker's pool",
    )
    group.add_argument("--concurrency", type=int, default=8, help="Celery worker concurrency")
    group.add_argument(
        "--db-reuse-max",
        type=int,
        default=100,
        help="CELERY_DB_REUSE_MAX for the worker (0: reconnect per task)",
    )
    group.add_argument(
        "--shop-rate",
        default="0",
        help="CARTLY_SHOP_RATE_PER_SECOND (0: off; the engine's default is 40)",
    )
    group.add_argument(
        "--env",
        action="append",
        metavar="KEY=VALUE",
        help="an environment variable for every engine process (repeatable), "
        "e.g. a batch size the engine reads",
    )
    group.add_argument(
        "--worker-arg",
        action="append",
        metavar="ARG",
        help="appended to `celery -A config worker …` (repeatable), e.g. "
        "--worker-arg=--prefetch-multiplier=4",
    )
    group.add_argument(
        "--process",
        action="append",
        metavar="NAME=COMMAND",
        help="one more engine process started beside the worker with the "
        "engine's environment, measured as NAME (repeatable)",
    )


def add_load_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the load (wrk, as the n8n anchor)")
    group.add_argument(
        "--duration", type=float, default=DEFAULT_DURATION, help="seconds of load per measured run"
    )
    group.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_CONNECTIONS,
        help="wrk's closed loop of connections",
    )
    group.add_argument("--runs", type=int, default=2, help="measured runs per configuration")
    group.add_argument("--warmup", type=float, default=5.0, help="seconds of unmeasured load")
    group.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="how long to wait after the load for the backlog to finish",
    )
    group.add_argument(
        "--max-rate",
        type=float,
        default=DEFAULT_MAX_RATE,
        help="deliveries made per second of load (each is sent once)",
    )
    group.add_argument("--noop-tasks", type=int, default=4000)


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(
        gunicorn=args.gunicorn,
        web_nice=args.web_nice,
        pool=args.pool,
        concurrency=args.concurrency,
        db_reuse_max=args.db_reuse_max,
        shop_rate=args.shop_rate,
        env=parse_pairs(args.env, "--env"),
        worker_args=list(args.worker_arg or []),
        extra=parse_pairs(args.process, "--process"),
    )
