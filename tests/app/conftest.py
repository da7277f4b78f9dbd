"""Fixtures of the API tests: a small real pipeline and a registry with it as champion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from app.main import create_app
from app.model_manager import ModelManager
from moviescore.config import Settings
from tests.helpers import live
from tests.helpers.live import fit_pipeline, manifest_for


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    return fit_pipeline()


@pytest.fixture
def static_manager(pipeline: Pipeline) -> ModelManager:
    from moviescore.registry.store import ModelBundle

    bundle = ModelBundle(version="v-test", manifest=manifest_for(pipeline), pipeline=pipeline)
    return ModelManager.static(bundle, source_uri="memory://v-test")


@pytest.fixture
def client(settings: Settings, static_manager: ModelManager) -> Iterator[TestClient]:
    with TestClient(create_app(settings, manager=static_manager)) as c:
        yield c


@pytest.fixture
def empty_client(settings: Settings) -> Iterator[TestClient]:
    """An API with no model and no registry: what a server looks like before its first load."""
    with TestClient(create_app(settings, manager=ModelManager(registry=None))) as c:
        yield c


# --- a real registry on the session's SeaweedFS ---------------------------------------------


@pytest.fixture
def registry(s3_settings: Settings) -> Any:
    from moviescore.registry.store import Registry

    return Registry.from_settings(s3_settings)


@pytest.fixture
def promote() -> Any:
    """promote(registry, seed=0, model_name="xgboost") -> version: fit, publish, set champion."""
    return live.promote
