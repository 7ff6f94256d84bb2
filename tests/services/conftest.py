"""Fixtures for the service clients: fake Sonarr/Radarr/Lidarr servers on 127.0.0.1."""
from __future__ import annotations

import httpx
import pytest

from fakes.arr_server import FakeArr
from fakes.checked import checked_fakes

from toolkit.core.services.settings import CONNECTION_MODELS, ServiceKind


@pytest.fixture
def make_fake_arr():
    """Start fake servers; on teardown, fail the test if any request broke the contract."""
    yield from checked_fakes(lambda kind, **options: FakeArr(kind, **options).start(),
                             "the official API documents")


@pytest.fixture
def fake_sonarr(make_fake_arr) -> FakeArr:
    return make_fake_arr("sonarr")


@pytest.fixture
def fake_radarr(make_fake_arr) -> FakeArr:
    return make_fake_arr("radarr")


@pytest.fixture
def fake_lidarr(make_fake_arr) -> FakeArr:
    return make_fake_arr("lidarr")


def connection_to(fake: FakeArr, **overrides):
    """A connection model of the fake's kind pointing at it."""
    model = CONNECTION_MODELS[ServiceKind(fake.kind)]
    values = dict(enabled=True, host="127.0.0.1", port=fake.port, api_key=fake.api_key,
                  url_base=fake.url_base, timeout=5.0)
    values.update(overrides)
    return model(**values)


@pytest.fixture
async def http():
    """The shared pooled client, as the host owns it."""
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def connect_to():
    """``connect_to(fake, **overrides)`` -> connection settings pointing at the fake."""
    return connection_to
