"""Engine, sessions and the request's single commit point.

Services only `flush()`. `get_session` is the one place that commits or rolls back, and it is
declared with `scope="function"` so the commit happens before the response is sent: a commit
that fails becomes an error response, never a 2xx that lied.

SQLite writers start with `BEGIN IMMEDIATE` so that a read-then-write inside a request holds
the database's write lock from the start (SQLite has no `SELECT … FOR UPDATE`); reads (GET,
exports) start deferred so they never wait for writers in WAL mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.errors import AppError

READ_ONLY_OPTION = "grants_read_only"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def build_engine(url: str, *, pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=False
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {},
    )


class Database:
    """An engine with its two session factories (read-write and read-only).

    `bind` pins every session to one connection instead of the pool: the test harness passes
    a connection inside an outer transaction, and sessions then commit to savepoints.
    """

    def __init__(self, engine: Engine, *, bind: Connection | None = None) -> None:
        self.engine = engine
        if bind is not None:
            self._write = self._read = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            return
        self._write = sessionmaker(engine, expire_on_commit=False)
        self._read = sessionmaker(
            engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    def session(self, *, read_only: bool = False) -> Session:
        return (self._read if read_only else self._write)()

    def ping(self) -> None:
        """Raise unless the database answers a trivial query (readiness probe)."""
        with self.transaction(read_only=True) as session:
            session.execute(text("SELECT 1"))

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """A unit of work outside a request (CLI, streaming generators): commit or roll back."""
        session = self.session(read_only=read_only)
        try:
            yield session
            if not read_only:
                session.commit()
            # A read-only unit just closes: closing ends the transaction without expiring the
            # loaded objects, so callers can keep using them detached.
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    db: Database = request.app.state.db
    session = db.session(read_only=request.method in _READ_METHODS)
    try:
        yield session
        session.commit()
    except AppError as exc:
        if exc.keep_changes:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]
