"""Fixtures for the queue cleaner: fake Sonarr/Radarr servers speaking the official API,
configured for the toolkit through the documented environment overrides."""
from __future__ import annotations

import dataclasses

import pytest

from fakes.arr_server import FakeArr
from fakes.checked import checked_fakes


@pytest.fixture(autouse=True)
def no_scheduled_check(monkeypatch):
    """The default schedule (every 5 minutes) is created disabled here: a check it fires in
    the middle of a test would count strikes the test does not expect."""
    from toolkit.plugins.queue import tasks

    monkeypatch.setattr(tasks, "SCHEDULES", [dataclasses.replace(tasks.SCHEDULE, enabled=False)])


@pytest.fixture
def arr(monkeypatch):
    """``arr("sonarr")`` starts a fake and makes it the toolkit's Sonarr; on teardown the
    test fails if any request left the official API document."""
    monkeypatch.setenv("TOOLKIT_QUEUE__SEARCH_PACE_SECONDS", "0")

    def start(kind: str) -> FakeArr:
        fake = FakeArr(kind).start()
        # the host's connection, as a container gives it: these two variables alone
        monkeypatch.setenv(f"TOOLKIT_{kind.upper()}__URL", f"http://127.0.0.1:{fake.port}")
        monkeypatch.setenv(f"TOOLKIT_{kind.upper()}__API_KEY", fake.api_key)
        return fake

    yield from checked_fakes(start, "the official API documents")


def failed_pack(sonarr: FakeArr, title: str = "Show.S01.1080p.WEB-GRP", episodes: int = 2, **options):
    """A series, its episodes and a failed season-pack download of them."""
    series = sonarr.add_series(title.split(".")[0], f"/tv/{title.split('.')[0]}")
    made = sonarr.add_episodes(series, 1, list(range(1, episodes + 1)))
    options.setdefault("status", "failed")
    options.setdefault("tracked_status", "error")
    options.setdefault("tracked_state", "failed")
    records = sonarr.add_queue_item(title, series=series, episodes=made, **options)
    return series, made, records


async def check(client) -> dict:
    response = await client.post("/api/queue/check")
    assert response.status_code == 200, await response.get_data()
    return (await response.get_json())["plan"]


async def checks(client, times: int) -> dict:
    plan = {}
    for _ in range(times):
        plan = await check(client)
    return plan
