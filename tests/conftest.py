"""Shared fixtures: a migrated template database cloned per test, and a topic root per test.

Every test that touches PostgreSQL gets its own database (`CREATE DATABASE ... TEMPLATE`), and every
test that touches MQTT gets its own topic root and client ids, so tests run in any order.
"""

import os
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from runtime.settings import Settings
from sql.migrate import migrate
from tests.support import Publisher

SERVER_URL = os.environ.get("GEOHAZARD_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _url_for(dbname: str) -> str:
    return urlsplit(SERVER_URL)._replace(path=f"/{dbname}").geturl()


def _drop(dbname: str) -> None:
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


@pytest.fixture(scope="session")
def template_db():
    """A database with every migration applied, used only as the template of the per-test ones."""
    name = f"geohazard_tmpl_{uuid.uuid4().hex[:10]}"
    migrate(_url_for(name))
    # TimescaleDB's job scheduler connects to every database that allows it, the template too, and a clone of
    # a database someone is connected to fails ("being accessed by other users"): the template takes no
    # connections, and any it has is ended.
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    yield name
    _drop(name)


@pytest.fixture
def database_url(template_db):
    """A fresh, fully migrated database of this test's own."""
    name = f"geohazard_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_db))
        )
    yield _url_for(name)
    _drop(name)


@pytest.fixture
def empty_database_url():
    """A database name that does not exist yet; dropped afterwards."""
    name = f"geohazard_e_{uuid.uuid4().hex[:12]}"
    yield _url_for(name)
    _drop(name)


@pytest.fixture
def topic_root():
    """A topic root no other test publishes under."""
    return f"test/{uuid.uuid4().hex[:12]}/geohazard/v1"


@pytest.fixture
def settings(database_url, topic_root, tmp_path):
    """Settings pointing at this test's database, topic root and photo directory, with fast ingest batching."""
    return Settings(
        patrol_photo_dir=str(tmp_path / "patrol-photos"),
        database_url=database_url,
        topic_root=topic_root,
        ingest_client_id=f"ingest-{uuid.uuid4().hex[:12]}",
        ingest_batch_wait_ms=50,
        ingest_metrics_port=0,
        engine_interval_s=1,
    )


@pytest.fixture
def db(database_url):
    """A psycopg connection (autocommit) to this test's database, for rows the test sets up itself."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def alert_topic(settings):
    """The retained alert topic of the API tests' point (500113-HP-0042), cleared afterwards so the shared
    broker keeps nothing of this test."""
    topic = f"{settings.topic_root}/alerts/500113/500113-HP-0042"
    yield topic
    publisher = Publisher(settings)
    try:
        publisher.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
    finally:
        publisher.close()
