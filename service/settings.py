"""One place for configuration: GEOHAZARD_* environment variables, validated at start-up."""

from functools import lru_cache
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    future_tolerance_s: int = Field(300, ge=0, description="Readings stamped further ahead than this are flagged.")
    retention_days: int = Field(3650, ge=1, description="Readings older than this are flagged as stale.")
    engine_interval_s: int = Field(60, ge=1, description="Seconds between full evaluations of every sensor.")
    api_host: str = Field("127.0.0.1", description="Address `geohazard serve` listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `geohazard serve` listens on.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL, e.g. postgresql://postgres@127.0.0.1:5432/geohazard")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError("must look like mqtt://host:1883 (optionally mqtt://user:password@host:1883)")
        return value

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


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
