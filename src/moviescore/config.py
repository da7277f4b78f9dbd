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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- TMDB (v3 key or v4 read token; either works) ---
    tmdb_api_key: SecretStr | None = None
    tmdb_read_access_token: SecretStr | None = None
    tmdb_base_url: str = "https://api.themoviedb.org/3"
    tmdb_requests_per_second: float = Field(20.0, gt=0, description="TMDB allows ~50/s")
    tmdb_timeout_seconds: float = Field(10.0, gt=0)
    tmdb_max_retries: int = Field(5, ge=0)
    tmdb_days_back: int = Field(30, ge=0, description="collect releases this many days before ds")
    tmdb_days_ahead: int = Field(30, ge=0, description="... and this many days after ds")
    tmdb_language: str = "en-US"

    # --- local data ---
    data_dir: Path = Path("data")
    max_rejected_share: float = Field(0.2, ge=0, le=1)
    min_vote_count: int = Field(5, ge=0, description="train only on movies with MORE votes")

    # --- model registry on S3 ---
    s3_endpoint_url: str | None = "http://127.0.0.1:8333"
    s3_bucket: str = "moviescore"
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_default_region: str = "us-east-1"
    model_signing_key: SecretStr | None = None

    # --- promotion rule ---
    min_rmse_improvement: float = Field(0.005, ge=0)
    max_rmse_gap: float = Field(0.6, gt=0)

    # --- W&B ---
    wandb_project: str = "tmdb-movie-score"
    wandb_entity: str | None = None
    wandb_api_key: SecretStr | None = None
    wandb_mode: Literal["online", "offline", "disabled"] | None = None
    wandb_init_timeout: float = Field(20.0, gt=0, description="an unreachable W&B costs this")

    # --- serving ---
    model_poll_seconds: float = Field(10.0, gt=0)
    api_url: str = "http://127.0.0.1:8000"

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
