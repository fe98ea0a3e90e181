"""The `grants` command line: migrate, serve, create-user, demo, sweep-orphans."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from app.config import ConfigurationError, get_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: object | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "file_template",
        "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s",
    )
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def cmd_migrate(_: argparse.Namespace) -> int:
    from alembic import command

    command.upgrade(alembic_config(), "head")
    print("database is at the latest schema")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.observability.logs import logging_config

    if args.forwarded_allow_ips is not None:
        # The option sets TRUSTED_PROXIES for this server and its workers (they read the
        # environment), so it is validated like the setting.
        os.environ["TRUSTED_PROXIES"] = args.forwarded_allow_ips
        get_settings.cache_clear()
    settings = get_settings()  # refuse to start on a bad configuration before forking workers
    _prepare_metrics_directory()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # The application reads X-Forwarded-* itself, from TRUSTED_PROXIES only
        # (app/client_address.py), so it must see the real socket peer.
        proxy_headers=False,
        log_config=logging_config(settings.log_level, settings.effective_log_format),
        log_level=settings.log_level.lower(),
        access_log=False,  # the application writes one JSON line per request instead
        # uvicorn restarts a worker that does not answer its supervisor within this many
        # seconds, start-up included; 5 s (its default) is too short on a busy host.
        timeout_worker_healthcheck=args.worker_healthcheck_timeout,
    )
    return 0


def _prepare_metrics_directory() -> None:
    """With PROMETHEUS_MULTIPROC_DIR, start from an empty directory (prometheus-client's rule:
    files left by an earlier run would be added to this run's counters)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def _database():
    from app.db import Database, build_engine

    return Database(build_engine(get_settings().database_url))


def cmd_create_user(args: argparse.Namespace) -> int:
    from app.errors import AppError
    from app.models import Role
    from app.users.schemas import StaffUserIn
    from app.users.service import create_staff_user

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
    if not password:
        print("error: give the password on standard input with --password-stdin", file=sys.stderr)
        return 2
    try:
        payload = StaffUserIn(
            email=args.email, password=password, full_name=args.full_name, role=Role(args.role)
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    db = _database()
    try:
        with db.transaction() as session:
            user = create_staff_user(
                session,
                actor=None,
                email=payload.email,
                password=payload.password,
                full_name=payload.full_name,
                role=payload.role,
            )
            print(f"created {user.role.value} {user.email} ({user.id})")
    except AppError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        db.engine.dispose()
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from app.demo import DEMO_PASSWORD, load_demo

    if get_settings().is_production:
        print("error: demo data is never loaded with GRANTS_ENV=production", file=sys.stderr)
        return 2
    db = _database()
    try:
        with db.transaction() as session:
            result = load_demo(session)
    finally:
        db.engine.dispose()
    if result.created:
        print(f"loaded the reference programme: {result.call_title}")
    else:
        print(f"the reference programme was already loaded: {result.call_title}")
    print(f"demo logins (password for all: {DEMO_PASSWORD}):")
    for role, email in result.logins:
        print(f"  {role:<16} {email}")
    return 0


def cmd_sweep_orphans(args: argparse.Namespace) -> int:
    from app.documents.sweeper import sweep_orphans
    from app.storage import storage_from_url

    db = _database()
    try:
        removed = sweep_orphans(
            db, storage_from_url(get_settings().storage_url), min_age_minutes=args.min_age_minutes
        )
    finally:
        db.engine.dispose()
    print(f"removed {removed} orphaned object(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grants", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="upgrade the database to the latest schema").set_defaults(
        func=cmd_migrate
    )

    serve = sub.add_parser("serve", help="serve the API (loads nothing)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--worker-healthcheck-timeout",
        type=int,
        default=30,
        help="seconds a worker may take to answer the supervisor before it is restarted",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies trusted for X-Forwarded-* headers (comma-separated IPs or networks, "
        "or *); overrides TRUSTED_PROXIES, which is empty by default",
    )
    serve.set_defaults(func=cmd_serve)

    create = sub.add_parser("create-user", help="create a staff account (e.g. the first admin)")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--role",
        required=True,
        choices=["admin", "program_officer", "reviewer", "finance_officer"],
    )
    create.add_argument("--full-name", required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(func=cmd_create_user)

    sub.add_parser("demo", help="load the reference programme and demo users").set_defaults(
        func=cmd_demo
    )

    sweep = sub.add_parser("sweep-orphans", help="remove stored documents that have no record")
    sweep.add_argument("--min-age-minutes", type=int, default=60)
    sweep.set_defaults(func=cmd_sweep_orphans)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        print(f"configuration error: {problems}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
