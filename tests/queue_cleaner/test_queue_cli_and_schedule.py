"""``redriva-toolkit queue check``: exit codes and the JSON report; the scheduled check."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from toolkit.api import InvalidParams
from toolkit.cli import build_cli
from toolkit.plugins.queue import tasks
from toolkit.testing import toolkit_of_app

from .conftest import failed_pack

ENTRY_KEYS = {"app", "queue_id", "download_id", "title", "rule", "strikes", "action"}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TOOLKIT_DATABASE_URL", raising=False)
    return tmp_path / "data"


def queue_check(*arguments: str, input: str | None = None):
    return CliRunner().invoke(build_cli(), ["queue", "check", *arguments], input=input,
                              catch_exceptions=False)


def test_exit_codes_and_json(arr, data_dir, tmp_path):
    sonarr = arr("sonarr")
    _series, episodes, _records = failed_pack(sonarr)
    report = tmp_path / "report.json"
    first = queue_check("--json", str(report))
    assert first.exit_code == 0, first.output  # one strike: nothing to do yet
    assert json.loads(report.read_text()) == {"plan": [], "applied": [], "errors": [], "held": None}
    assert queue_check().exit_code == 0
    planned = queue_check("--json", str(report))
    assert planned.exit_code == 2, planned.output
    [entry] = json.loads(report.read_text())["plan"]
    assert ENTRY_KEYS <= set(entry) and entry["strikes"] == 3
    assert entry["episode_ids"] == [e["id"] for e in episodes]
    declined = queue_check("--apply", input="n\n")
    assert declined.exit_code == 2 and sonarr.queue_removals == []
    applied = queue_check("--apply", "--yes", "--json", str(report))
    assert applied.exit_code == 3, applied.output
    body = json.loads(report.read_text())
    assert [a["ok"] for a in body["applied"]] == [True] and ENTRY_KEYS <= set(body["applied"][0])
    assert sonarr.command_names() == ["EpisodeSearch"]


def test_a_guard_exits_4_and_a_protected_item_alone_does_not(arr, data_dir, monkeypatch):
    sonarr = arr("sonarr")
    failed_pack(sonarr)
    monkeypatch.setenv("TOOLKIT_QUEUE__STRIKES", "1")
    monkeypatch.setenv("TOOLKIT_QUEUE__MAX_REMOVALS_PER_RUN", "0")
    result = queue_check("--apply", "--yes")
    assert result.exit_code == 4, result.output
    assert "removal cap" in result.output and sonarr.queue_removals == []
    monkeypatch.setenv("TOOLKIT_QUEUE__PROTECTED_DOWNLOAD_IDS", sonarr.queue[0]["downloadId"])
    assert queue_check().exit_code == 0


def test_nothing_configured_exits_1(data_dir):
    result = CliRunner().invoke(build_cli(), ["queue", "check"])
    assert result.exit_code == 1 and "no Sonarr, Radarr or Lidarr" in result.stderr


async def test_the_scheduled_check_applies_only_when_opted_in(arr, toolkit_app, monkeypatch):
    sonarr = arr("sonarr")
    failed_pack(sonarr)
    monkeypatch.setenv("TOOLKIT_QUEUE__STRIKES", "1")
    tk = toolkit_of_app(toolkit_app)
    [schedule] = [s for s in await tk.scheduler.list() if s.task == "queue:check"]
    assert schedule.params == {} and tasks.SCHEDULE.enabled and tasks.SCHEDULE.cron == "*/5 * * * *"
    job = await tk.runner.enqueue("queue:check", schedule.params)
    done = await tk.runner.wait(job.id, timeout=30)
    assert done.state == "completed" and done.result["exit_code"] == 2
    assert sonarr.queue_removals == []
    monkeypatch.setenv("TOOLKIT_QUEUE__APPLY_SCHEDULED", "true")
    job = await tk.runner.enqueue("queue:check", schedule.params)
    done = await tk.runner.wait(job.id, timeout=30)
    assert done.result["exit_code"] == 3 and len(sonarr.queue_removals) == 1
    with pytest.raises(InvalidParams):  # no parameter can ask a job to apply
        await tk.runner.enqueue("queue:check", {"apply": True})
