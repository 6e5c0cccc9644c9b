"""One place for configuration: GEOHAZARD_* environment variables, validated at start-up."""

import os
import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.mqtt import BrokerLogin, broker_login


# `geohazard serve` runs a worker per two cores by default: PostgreSQL spends as much CPU on a listing as the API
# does or more (bench/api.py), and shares the machine in the usual shape, so more workers than half the cores only
# crowd it out (on 2 cores, 2 workers answered no faster than 1). No more than 8: the API's database connections
# (GEOHAZARD_API_DB_CONNECTIONS, 40) are shared among the workers, and past 8 each pool would hold fewer than 5, so
# a busy worker would wait for a connection while others sat idle. A host of the API's own sets
# GEOHAZARD_API_WORKERS to its cores.
MAX_DEFAULT_API_WORKERS = 8

# What Leaflet fills in an XYZ template: zoom, column, row, a subdomain (a, b or c) and @2x on high-DPI screens.
MAP_TILE_PLACEHOLDERS = frozenset({"z", "x", "y", "s", "r"})

# MM-DD of a day every year has (02-29 is refused: the season would move in other years).
_MONTH_DAY = r"^(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)$"


class Settings(BaseSettings):
    """Every tunable of every process; each field is GEOHAZARD_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="GEOHAZARD_", extra="ignore")

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/geohazard",
        description="PostgreSQL (with or without TimescaleDB) holding the registry, readings and alerts.",
    )
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="The MQTT broker devices publish to.")
    topic_root: str = Field(
        "geohazard/v1", description="Root of the native topics; tests give each run its own root."
    )
    ingest_client_id: str = Field(
        "geohazard-ingest",
        description="Fixed MQTT client id of the ingest process, so its persistent session survives restarts.",
    )
    ingest_mqtt_url: str | None = Field(
        None, description="The broker account ingest logs in with (mqtt://user:password@host:port), read-only in "
        "the ACL of `geohazard acl`; unset: GEOHAZARD_MQTT_URL's."
    )
    ingest_share_group: str | None = Field(
        None, description="MQTT shared-subscription group; set by `geohazard ingest --workers N` for its workers."
    )
    ingest_dollar_topics: bool = Field(
        True, description="Subscribe to $dp and $crsp/+/+ (not shareable in Mosquitto; with --workers, worker 0 only)."
    )
    ingest_metrics_port: int = Field(
        9101, ge=0, le=65535, description="Port of ingest's Prometheus /metrics (0: off; worker i uses port + i)."
    )
    ingest_batch_messages: int = Field(
        500, ge=1, description="Commit once this many messages are waiting (half the broker's in-flight window "
        "of 1000, so the next batch arrives and is decoded while this one commits)..."
    )
    ingest_batch_wait_ms: int = Field(100, ge=1, description="...or once the oldest waiting message is this old.")
    ingest_window_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="Payload bytes of messages ingest holds received and not yet committed, at "
        "most (default 16 MiB; besides 4x GEOHAZARD_INGEST_BATCH_MESSAGES messages): beyond it, it reads no more "
        "from the broker until a commit makes room, and a batch is cut at a quarter of it. A larger message passes "
        "alone."
    )
    ingest_max_message_bytes: int = Field(
        1024 * 1024, ge=65_538, description="A larger message is not decoded (default 1 MiB; at least 65,538, the "
        "largest universal frame): it is dead-lettered with its size, SHA-256 and first 65,538 bytes."
    )
    future_tolerance_s: int = Field(300, ge=0, description="Readings stamped further ahead than this are flagged.")
    retention_days: int = Field(3650, ge=1, description="Readings older than this are flagged as stale.")
    engine_interval_s: int = Field(60, ge=1, description="Seconds between full evaluations of every sensor.")
    engine_resync_s: int = Field(
        3600, ge=60, description="Seconds between rebuilds of the engine's in-memory windows from the database "
        "(they pick up readings written behind ingest's back, such as quarantine replays)."
    )
    api_host: str = Field("127.0.0.1", description="Address `geohazard serve` listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `geohazard serve` listens on.")
    api_workers: int | None = Field(
        None, ge=1, description="Worker processes of `geohazard serve` (its --workers); unset: one per two cores the "
        "process may use, at least 1 and at most 8."
    )
    api_db_connections: int = Field(
        40, ge=2, description="Database connections the API's workers hold at most, all together: each worker's "
        "pool gets an equal share, at most 10 and at least 2 (default 40 of PostgreSQL's default max_connections "
        "of 100, leaving the rest to ingest, the engine and administration)."
    )
    console_session_idle_h: float = Field(
        12.0, gt=0, description="A console session ends after this many hours without a request (default 12: one "
        "duty shift); the officer signs in again."
    )
    console_secure_cookies: bool | None = Field(
        None, description="Mark the console's cookies Secure (sent over HTTPS only). Unset: when the request came "
        "over HTTPS (behind a TLS proxy, run uvicorn with --proxy-headers so it can tell)."
    )
    map_tiles: str = Field(
        "none", description="The console map's base layer: an XYZ URL template (https://.../{z}/{x}/{y}.png), a "
        "local directory of {z}/{x}/{y}.png tiles the app serves itself, or none (a plain background with a "
        "coordinate grid). Points are WGS84: use a WGS84/CGCS2000 source (Tianditu), not a GCJ-02 one."
    )
    map_tiles_attribution: str = Field("", description="The credit line the tile source asks to show on the map.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    patrol_photo_dir: str = Field(
        "var/patrol-photos", description="Directory the API keeps patrol-report photos in (created on first use)."
    )
    patrol_photo_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest photo a patrol report may carry, in bytes (default 10 MiB)."
    )
    patrol_photos_per_report: int = Field(10, ge=1, description="Most photos one patrol report may carry.")
    public_reports_per_hour: int = Field(
        5, ge=1, description="Most reports of a sign of danger the public pages take from one address in an hour."
    )
    field_photo_max_px: int = Field(
        1600, ge=320, le=8192, description="The phone app shrinks each photo on the phone to at most this many pixels "
        "on its longer side before it waits in the outbox (a JPEG of a few hundred KB instead of several MB over a "
        "weak signal)."
    )
    max_request_body_bytes: int = Field(
        128 * 1024 * 1024, ge=1024, description="Largest request body the API reads, in bytes (default 128 MiB: a "
        "patrol report with its photos); a larger one gets 413 before it is read."
    )
    patrol_far_from_point_m: float = Field(
        300.0, gt=0, description="A patrol report made further than this from its point is flagged far_from_point."
    )
    patrol_regime_interval_s: int = Field(
        3600, ge=60, description="Seconds between runs of the patrol regimes in the engine: routine and flood-season "
        "tasks, and the escalation of overdue tasks."
    )
    flood_season_start: str = Field(
        "05-01",
        pattern=_MONTH_DAY,
        description="First day (MM-DD, local) of the flood season (汛期); default 05-01, as in Chongqing.",
    )
    flood_season_end: str = Field(
        "09-30",
        pattern=_MONTH_DAY,
        description="Last day (MM-DD, local, inclusive) of the flood season; before the start: across the new year.",
    )
    flood_season_timezone: str = Field("Asia/Shanghai", description="The time zone the flood season's days are in.")
    flood_before_weeks: int = Field(
        4, ge=1, le=26,
        description="汛前排查: a flood_before task per point in these weeks before the season, due at its start.",
    )
    flood_during_interval_days: int = Field(
        7, ge=1, le=92, description="汛中巡查: a flood_during task per point every this many days within the season."
    )
    flood_after_weeks: int = Field(
        4, ge=1, le=26,
        description="汛后核查: a flood_after task per point after the season, due this many weeks after its end.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL, e.g. postgresql://postgres@127.0.0.1:5432/geohazard")
        return value

    @field_validator("mqtt_url", "ingest_mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError("must look like mqtt://host:1883 (optionally mqtt://user:password@host:1883)")
        return value

    @field_validator("map_tiles")
    @classmethod
    def _map_tiles(cls, value: str) -> str:
        """none, an http(s) XYZ template, or a directory (whether it exists is checked where the map is served)."""
        value = value.strip()
        if value.lower() == "none":
            return "none"
        if not value:
            raise ValueError("must be none, an XYZ URL template or a tile directory, not empty")
        if "://" not in value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a tile URL must be http:// or https:// with a host, not {value!r}")
        placeholders = set(re.findall(r"\{([^{}]*)\}", value))
        missing = [name for name in ("z", "x", "y") if name not in placeholders]
        if missing:
            raise ValueError(f"a tile URL template needs {{z}}, {{x}} and {{y}}; {value!r} lacks "
                             + ", ".join(f"{{{name}}}" for name in missing))
        unknown = sorted(placeholders - MAP_TILE_PLACEHOLDERS)
        if unknown:
            raise ValueError(f"a tile URL template may hold only {{z}}, {{x}}, {{y}}, {{s}} (subdomains a, b, c) and "
                             f"{{r}}; {value!r} holds " + ", ".join(f"{{{name}}}" for name in unknown))
        return value

    @property
    def api_worker_count(self) -> int:
        """How many worker processes `geohazard serve` runs: api_workers, else one per two usable cores (1 to 8)."""
        if self.api_workers:
            return self.api_workers
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(cores // 2, MAX_DEFAULT_API_WORKERS))

    @property
    def mqtt_host(self) -> str:
        return urlsplit(self.mqtt_url).hostname or "127.0.0.1"

    @property
    def mqtt_port(self) -> int:
        return urlsplit(self.mqtt_url).port or 1883

    @property
    def mqtt_username(self) -> str | None:
        username = urlsplit(self.mqtt_url).username
        return unquote(username) if username is not None else None

    @property
    def mqtt_password(self) -> str | None:
        password = urlsplit(self.mqtt_url).password
        return unquote(password) if password is not None else None

    @property
    def mqtt_login(self) -> BrokerLogin:
        """Where and as whom the engine, the API and the CLI connect: GEOHAZARD_MQTT_URL."""
        return broker_login(self.mqtt_url)

    @property
    def ingest_login(self) -> BrokerLogin:
        """Where and as whom ingest connects: GEOHAZARD_INGEST_MQTT_URL, else the shared GEOHAZARD_MQTT_URL."""
        return broker_login(self.ingest_mqtt_url or self.mqtt_url)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
