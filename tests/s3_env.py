"""Pointing a test's environment at a bucket of a local SeaweedFS (used by several conftests)."""

from __future__ import annotations

from typing import Any

import pytest

from moviescore.config import Settings, get_settings


def use_s3(monkeypatch: pytest.MonkeyPatch, server: Any, bucket: str) -> Settings:
    """Point the environment (and so `get_settings()`) at `bucket` on a LocalS3Server, unsigned."""
    monkeypatch.setenv("S3_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("S3_BUCKET", bucket)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.delenv("MODEL_SIGNING_KEY", raising=False)
    get_settings.cache_clear()
    return get_settings()
