"""Where the real services of the test machine are, and whether they answer.

The default test run uses RabbitMQ and PostgreSQL whenever they answer.
With ``ESB_TEST_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a service that does
not answer fails the run instead of skipping its tests.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest

RABBITMQ_URL = os.environ.get("ESB_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
POSTGRES_URL = os.environ.get(
    "ESB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/esb_test"
)


@cache
def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    if answers(host, port):
        return
    message = f"{service} does not answer on {host}:{port}"
    if os.environ.get("ESB_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_rabbitmq() -> str:
    require("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL


@cache
def _ensure_database() -> None:
    import sqlalchemy as sa

    server = POSTGRES_URL.rsplit("/", 1)[0]
    admin = sa.create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    name = POSTGRES_URL.rsplit("/", 1)[1]
    with admin.connect() as connection:
        query = sa.text("select 1 from pg_database where datname = :n")
        exists = connection.scalar(query, {"n": name})
        if not exists:
            try:
                connection.execute(sa.text(f'create database "{name}"'))
            except (sa.exc.ProgrammingError, sa.exc.IntegrityError):  # another test process
                # (pytest-xdist) created it meanwhile
                if not connection.scalar(query, {"n": name}):
                    raise
    admin.dispose()


def require_postgres() -> str:
    require("PostgreSQL", "127.0.0.1", 5432)
    _ensure_database()
    return POSTGRES_URL


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL schema (first on the ``search_path`` of every
    connection made with it), dropped with all it holds afterwards."""
    import sqlalchemy as sa

    url = require_postgres()
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
