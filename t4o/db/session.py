"""Engine and sessions for the configured database, and schema migration (alembic)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from t4o.common.config import CONF

_LOCK = threading.Lock()
_ENGINES: dict[str, Engine] = {}
_MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True, pool_recycle=3600
    )


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: ``[database] connection``)."""
    if url is None:
        url = CONF.database.connection
        pool, overflow = CONF.database.max_pool_size, CONF.database.max_overflow
    else:
        pool, overflow = 10, 20
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = make_engine(url, pool, overflow)
        return engine


def get_read_engine() -> Engine:
    """The engine of the hot read paths (listings): each statement in its own autocommit transaction,
    no ping at checkout and no rollback at checkin, so a read is one round trip to the server instead of
    three. Its callers retry once when a pooled connection turns out to be dead (``connection_invalidated``).
    SQLite has no round trips: there it is the ordinary engine."""
    url = CONF.database.connection
    # Looked up before parsing the URL: a listing asks twice per request, and parsing it costs more
    # than the rest of the lookup (dict reads are atomic: no lock needed for a hit).
    engine = _ENGINES.get("read:" + url)
    if engine is not None:
        return engine
    if make_url(url).get_backend_name() == "sqlite":
        return get_engine()
    with _LOCK:
        engine = _ENGINES.get("read:" + url)
        if engine is None:
            engine = _ENGINES["read:" + url] = create_engine(
                url,
                pool_size=CONF.database.max_pool_size,
                max_overflow=CONF.database.max_overflow,
                pool_recycle=3600,
                pool_reset_on_return=None,
                isolation_level="AUTOCOMMIT",
                skip_autocommit_rollback=True,
            )
        return engine


def dispose_all() -> None:
    """Drop every pooled connection (after fork, or at shutdown)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextlib.contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any exception."""
    session = sessionmaker(bind=get_engine(url), expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    # '%' would be read as interpolation by configparser.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def sync(url: str | None = None, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (db sync)."""
    if url is None:
        url = CONF.database.connection
    engine = get_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
