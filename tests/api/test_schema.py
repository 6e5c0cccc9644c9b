"""Property-based test of the whole HTTP API against its own OpenAPI schema (schemathesis): no 5xx anywhere.

Every operation the schema lists when the test runs is called in-process (ASGI, with the app's lifespan and
its database pool running) with an administrator's bearer token, so requests get past the token and role
checks into the handlers and their SQL. Schemathesis sends the schema's boundary values (its coverage phase)
and random valid and invalid parameters and bodies (its fuzzing phase); whatever it sends, the API must not
answer with a server error. Before each operation the database holds one hazard point with a device, a
sensor and a reading, a person on the point's grid, and an open alert with an event, and path parameters are
sometimes swapped for their keys, so the handlers of existing rows run too, not only their 404s.
"""

import json
import uuid
from datetime import timedelta

import hypothesis
import psycopg
import pytest
import schemathesis
from hypothesis import strategies as st
from psycopg import sql
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from runtime.settings import Settings
from service.app import create_app
from service.auth import create_token
from tests.api.support import SPEC_POINT, T0, bearer, insert_alert
from tests.conftest import SERVER_URL, _drop, _url_for
from tests.support import Publisher, register

POINT = SPEC_POINT["code"]
DEVICE, SENSOR = "DEV-0001", "L1_LF_1"
# Random examples per operation, on top of the boundary values of the coverage phase. Bounded so the whole API
# runs in well under a minute on a busy 2-core machine; derandomized, so CI and a laptop send the same requests.
EXAMPLES_PER_OPERATION = 10
CONFIG = schemathesis.Config.from_dict({
    # The coverage phase's valid boundary values (the bounds of each number, the longest strings, every enum
    # value) are what gets past validation into the handlers; its invalid ones only exercise FastAPI's validation,
    # which answers 422 by itself, and would triple the run. Fuzzing still sends invalid input of every kind.
    "phases": {"coverage": {"generation": {"mode": "positive"}}},
})
# Generous for one in-process request on a loaded machine; a slower answer is a hang worth a failure.
REQUEST_TIMEOUT_S = 10.0
# GET /alerts/stream is a server-sent event stream that never ends, so it is not excluded but cut after this
# long; the status and headers it sent by then are checked like any other answer.
STREAM_TIMEOUT_S = 0.5

# The schema as the app publishes it at /openapi.json; the settings do not change it.
schema = schemathesis.openapi.from_dict(create_app().openapi(), config=CONFIG)
# The keys of the rows seeded for the running operation, by path-parameter name (see `seed`).
SEEDED: dict[str, object] = {}
# Just past PostgreSQL's integer and bigint: an integer the schema leaves unbounded gets past validation and fails
# there (in the driver, or in arithmetic on it). Neither Hypothesis nor the coverage phase aims at these values,
# so the hooks below do.
DATABASE_INT_EDGES = (2**31, -(2**31) - 1, 2**63, -(2**63) - 1)


def seed(conn: psycopg.Connection, database_url: str) -> dict[str, object]:
    """One row of each kind a path parameter names; their keys, by parameter name."""
    register(database_url, point=POINT, gateway=DEVICE, sensors=[(SENSOR, "crack", {})], protocol="universal")
    conn.execute("INSERT INTO reading (device_id, sensor_code, ts, kind, value) VALUES (%s, %s, %s, 'crack', 12.43)",
                 (DEVICE, SENSOR, T0))
    person_id = conn.execute("INSERT INTO person (name, phone, roles, county_code)"
                             " VALUES ('Li Wei', '13800000000', '{monitor}', '500113') RETURNING id").fetchone()[0]
    conn.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
                 (POINT, person_id))
    alert_id = insert_alert(conn, POINT, level="orange", raised_at=T0 + timedelta(hours=1))
    conn.execute("INSERT INTO alert_event (alert_id, at, kind, to_level, actor, inputs)"
                 " VALUES (%s, %s, 'raised', 'orange', 'engine', %s)",
                 (alert_id, T0 + timedelta(hours=1), json.dumps({"alpha_deg": 81.2})))
    return {"code": POINT, "device_id": DEVICE, "alert_id": alert_id, "person_id": person_id}


def empty_every_table(conn: psycopg.Connection) -> None:
    """Delete every row the previous operation may have written (the migrations' record stays)."""
    tables = [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migration'")]
    with conn.transaction():
        # Neither foreign keys nor triggers while emptying: any order works, and no alert event is announced.
        conn.execute("SET LOCAL session_replication_role = replica")
        for table in tables:
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))


def _int_paths(value, path=()):
    """Where the integers are in a generated value (a dict of parameters, a JSON body)."""
    if isinstance(value, int) and not isinstance(value, bool):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _int_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _int_paths(item, (*path, index))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def or_at_a_database_edge(value) -> st.SearchStrategy:
    """The value as generated, or with one of its integers moved just past a database integer type."""
    paths = list(_int_paths(value))
    if not paths:
        return st.just(value)
    edged = st.tuples(st.sampled_from(paths), st.sampled_from(DATABASE_INT_EDGES))
    return st.one_of(st.just(value), edged.map(lambda choice: _replaced(value, *choice)))


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time (as Hypothesis draws it) the keys of the seeded rows, else what was generated."""
    keys = dict(SEEDED)
    if "/sensors/{code}" in context.operation.path:  # there `code` names the device's sensor, not the point
        keys["code"] = SENSOR
    known = {name: keys[name] for name in path_parameters or () if name in keys}
    if not known:
        return or_at_a_database_edge(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}]).flatmap(or_at_a_database_edge)


@schema.hook
def flatmap_query(context, query):
    return or_at_a_database_edge(query)


@schema.hook
def flatmap_body(context, body):
    return or_at_a_database_edge(body)


@pytest.fixture(scope="module")
def api_settings(template_db, tmp_path_factory):
    """One database for the module, cloned from the migrated template: a fresh one per operation would double the
    run, so each operation empties and re-seeds this one instead (`admin_headers`)."""
    name = f"geohazard_s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                       sql.Identifier(template_db)))
    settings = Settings(database_url=_url_for(name), topic_root=f"test/{uuid.uuid4().hex[:12]}/geohazard/v1",
                        patrol_photo_dir=str(tmp_path_factory.mktemp("patrol-photos")))
    yield settings
    # The lifecycle transitions published the seeded point's retained alert topic: leave the broker nothing.
    publisher = Publisher(settings)
    try:
        publisher.client.publish(f"{settings.topic_root}/alerts/500113/{POINT}", b"", qos=1,
                                 retain=True).wait_for_publish(10)
    finally:
        publisher.close()
        _drop(name)


@pytest.fixture(scope="module")
def api(api_settings):
    """The app with its lifespan running (pool open, MQTT connected), as an in-process requests session."""
    with asgi.get_client(create_app(api_settings)) as client:
        yield client
    asgi.shutdown_lifespans()  # closes the pool before the database is dropped


@pytest.fixture
def admin_headers(api_settings):
    """The seeded rows alone in the database, and an administrator's bearer token."""
    with psycopg.connect(api_settings.database_url, autocommit=True) as conn:
        empty_every_table(conn)
        SEEDED.clear()
        SEEDED.update(seed(conn, api_settings.database_url))
        return bearer(create_token(conn, name="schemathesis admin", role="admin"))


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_operation_answers_a_server_error(case, api, admin_headers):
    timeout = STREAM_TIMEOUT_S if case.operation.path.endswith("/stream") else REQUEST_TIMEOUT_S
    case.call_and_validate(session=api, base_url=api.base_url, headers=admin_headers, checks=[not_a_server_error],
                           timeout=timeout)
