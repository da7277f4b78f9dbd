"""Settings for both instances, read from the environment (and `.env`) only when asked for.

Nothing here runs at import time: `get_settings()` builds the object on first use, so importing
moviescore needs no environment at all. Secrets are `SecretStr` so they never print.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Credentials of the embedded SeaweedFS server (`moviescore s3`). They are used only when the
# endpoint is on loopback and nothing else is configured, so they can never reach a real bucket.
LOCAL_S3_ACCESS_KEY = "moviescore"
LOCAL_S3_SECRET_KEY = "moviescore-local-only"  # noqa: S105 - loopback-only development credential


class ConfigurationError(ValueError):
    """A mistake in what was asked (a missing snapshot, an impossible combination of options, a
    bad date): retrying cannot fix it. The message says what to change. The DAG fails such a
    task at once instead of retrying it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- TMDB (v3 key or v4 read token; either works) ---
    tmdb_api_key: SecretStr | None = Field(None, description="TMDB v3 API key")
    tmdb_read_access_token: SecretStr | None = Field(None, description="TMDB v4 read token")
    tmdb_base_url: str = Field("https://api.themoviedb.org/3", description="TMDB API root")
    tmdb_requests_per_second: float = Field(20.0, gt=0, description="TMDB allows ~50/s")
    tmdb_timeout_seconds: float = Field(10.0, gt=0, description="per request")
    tmdb_max_retries: int = Field(5, ge=0, description="on 429, 5xx, timeouts, resets")
    tmdb_days_back: int = Field(30, ge=0, description="collect releases this many days before ds")
    tmdb_days_ahead: int = Field(30, ge=0, description="... and this many days after ds")
    tmdb_language: str = Field("en-US", description="TextBlob reads English")

    # --- pipeline data ---
    data_store: Literal["s3", "local"] = Field(
        "s3",
        description="s3 = s3://$S3_BUCKET/data/ is the source of truth and DATA_DIR a cache; "
        "local = DATA_DIR only (one machine, tests, benchmarks)",
    )
    data_dir: Path = Field(Path("data"), description="local copies of the data, W&B files")
    max_rejected_share: float = Field(0.2, ge=0, le=1, description="collect fails above it")
    min_vote_count: int = Field(5, ge=0, description="train only on movies with MORE votes")

    # --- model registry on S3 ---
    s3_endpoint_url: str | None = Field(
        "http://127.0.0.1:8333", description="empty for AWS S3; else SeaweedFS/MinIO URL"
    )
    s3_bucket: str = Field("moviescore", description="the model registry bucket")
    aws_access_key_id: str | None = Field(None, description="else boto3's credential chain")
    aws_secret_access_key: SecretStr | None = Field(None, description="with the key id")
    aws_default_region: str = Field("us-east-1", description="S3 region")
    model_signing_key: SecretStr | None = Field(
        None, description="HMAC key: sign manifests, serve only signed models"
    )

    # --- promotion rule ---
    min_rmse_improvement: float = Field(0.005, ge=0, description="challenger must beat by")
    max_rmse_gap: float = Field(0.6, gt=0, description="max test RMSE − train RMSE")

    # --- W&B ---
    wandb_project: str = Field("tmdb-movie-score", description="W&B project")
    wandb_entity: str | None = Field(None, description="W&B team or user")
    wandb_api_key: SecretStr | None = Field(None, description="set = online runs")
    wandb_mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="empty = online with a key, else offline"
    )
    wandb_init_timeout: float = Field(20.0, gt=0, description="an unreachable W&B costs this")

    # --- serving ---
    model_poll_seconds: float = Field(10.0, gt=0, description="API checks champion.json")
    api_url: str = Field("http://127.0.0.1:8000", description="where the UI finds the API")
    request_body_timeout_seconds: float = Field(
        30.0, gt=0, description="API answers 408 to a body slower than this"
    )

    @property
    def s3_is_local(self) -> bool:
        host = urlparse(self.s3_endpoint_url or "").hostname
        return host in LOOPBACK_HOSTS

    def s3_credentials(self) -> tuple[str | None, str | None]:
        """Explicit credentials, else the embedded server's on loopback, else boto3's chain."""
        if self.aws_access_key_id and self.aws_secret_access_key:
            return self.aws_access_key_id, self.aws_secret_access_key.get_secret_value()
        if self.s3_is_local:
            return LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY
        return None, None

    @property
    def effective_wandb_mode(self) -> str:
        """Offline unless an API key is set, so training never waits on the network."""
        if self.wandb_mode:
            return self.wandb_mode
        return "online" if self.wandb_api_key else "offline"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def rejected_dir(self) -> Path:
        return self.data_dir / "rejected"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
