"""The API's probes, its OpenAPI document and its /metrics, against a real database."""

import re

import psycopg
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql


# --- probes -------------------------------------------------------------------------------------


def test_healthz_answers_without_a_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_when_the_database_does(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_is_503_with_a_reason_when_the_database_is_unreachable(client, database_url):
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(psycopg.conninfo.make_conninfo(database_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Database unreachable: ")


def test_openapi_has_title_version_and_the_api_paths(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] and spec["info"]["version"] and spec["info"]["description"]
    paths = {"/api/v1/hazard-points", "/api/v1/hazard-points/{code}", "/api/v1/alerts", "/api/v1/alerts/{alert_id}"}
    assert paths <= set(spec["paths"])


# --- /metrics ------------------------------------------------------------------------------------


def scrape(client) -> dict[tuple, float]:
    """The request counter's samples from /metrics, by (method, route, status)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.labels["method"], sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "geohazard_api_requests_total"
    }


def test_metrics_answer_without_a_token_in_the_prometheus_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "geohazard_api_request_duration_seconds_bucket" in response.text


def test_metrics_count_requests_by_route_template_not_raw_path(client, viewer):
    key = ("GET", "/api/v1/hazard-points/{code}", "404")
    before = scrape(client).get(key, 0.0)
    for code in ("500113-HP-7001", "500113-HP-7002"):
        assert client.get(f"/api/v1/hazard-points/{code}", headers=viewer).status_code == 404
    after = scrape(client)
    assert after[key] == before + 2
    assert not any("HP-700" in route for _, route, _ in after)


def test_metrics_time_requests_and_label_unknown_paths_and_methods_boundedly(client, viewer):
    client.get("/api/v1/alerts", headers=viewer)
    client.get("/no/such/path/42")
    client.request("BREW", "/healthz")
    samples = scrape(client)
    assert samples[("GET", "/api/v1/alerts", "200")] >= 1
    assert samples[("GET", "unmatched", "404")] >= 1
    assert samples[("other", "/healthz", "405")] >= 1
    histogram = client.get("/metrics").text
    assert re.search(r'geohazard_api_request_duration_seconds_count\{method="GET",route="/api/v1/alerts",'
                     r'status="200"\} [1-9]', histogram)
