"""Each classification rule and the strike counting, on the engine's plain data."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from toolkit.plugins.queue.engine.classify import Previous, classify, next_strikes
from toolkit.plugins.queue.engine.items import QueueItem, group_records
from toolkit.plugins.queue.settings import QueueSettings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
MiB = 1024 * 1024


def item(**fields) -> QueueItem:
    values = dict(app="sonarr", queue_id=1, download_id="ABC", title="Show.S01E01",
                  status="downloading", size=1000 * MiB, sizeleft=500 * MiB, series_id=3,
                  episode_ids=[7], protocol="torrent", monitored=True)
    values.update(fields)
    return QueueItem(**values)


def before(it: QueueItem, *, sizeleft: float, minutes: float = 5, problem=None, strikes=0) -> Previous:
    return Previous(problem, it.state, sizeleft, strikes, NOW - timedelta(minutes=minutes))


def rule_of(it: QueueItem, previous: Previous | None = None, **settings) -> str | None:
    finding = classify(it, previous, QueueSettings(**settings), NOW)
    return finding.rule if finding else None


@pytest.mark.parametrize("fields, rule", [
    ({"status": "failed"}, "failed"),
    ({"tracked_state": "failedPending", "status": "completed"}, "failed"),
    ({"status": "warning", "tracked_status": "warning",
      "messages": ["qBittorrent is reporting an error"]}, "debrid_error"),
    ({"status": "completed", "tracked_status": "warning", "tracked_state": "importBlocked",
      "messages": ["No files found are eligible for import in /downloads/x"]}, "missing_files"),
    ({"status": "completed", "tracked_status": "warning", "tracked_state": "importBlocked",
      "messages": ["Not an upgrade for existing episode file(s)"]}, "import_blocked"),
    ({"status": "queued", "size": 0, "sizeleft": 0}, "metadata_stuck"),
    ({"monitored": False}, "unmonitored"),
    ({"series_id": None, "episode_ids": []}, "unknown_item"),
    ({}, None),
])
def test_structured_rules(fields, rule):
    assert rule_of(item(**fields)) == rule


def test_stalled_needs_a_previous_check_without_progress():
    it = item()
    assert rule_of(it) is None  # nothing to compare with yet
    assert rule_of(it, before(it, sizeleft=500 * MiB)) == "stalled"
    assert rule_of(it, before(it, sizeleft=600 * MiB)) is None  # 100 MiB in 5 min: fine


def test_slow_below_the_minimum_speed_and_off_at_zero():
    it = item()
    crawling = before(it, sizeleft=500 * MiB + 300 * 1024, minutes=5)  # 1 KiB/s
    assert rule_of(it, crawling) == "slow"
    assert rule_of(it, crawling, slow_below_kbps=0) is None


def test_user_rules_match_any_language_by_wildcard_or_regex():
    rules = [{"name": "bloque", "pattern": "*importation bloquée*", "action": "blocklist"},
             {"name": "mort", "pattern": r"torrent (mort|expiré)", "regex": True, "action": "remove_client"}]
    settings = QueueSettings(message_rules=rules)
    french = item(status="completed", tracked_status="warning", tracked_state="importBlocked",
                  messages=["Importation bloquée : fichier incomplet"])
    assert classify(french, None, settings, NOW).rule == "bloque"
    assert settings.action_for("bloque") == "blocklist"
    dead = item(status="warning", tracked_status="warning", messages=["Le torrent expiré"])
    assert classify(dead, None, settings, NOW).rule == "mort"
    assert settings.action_for("mort") == "remove_client"
    # a plain word without wildcards matches inside the message
    word = QueueSettings(message_rules=[{"name": "w", "pattern": "BLOQUÉE"}])
    assert classify(french, None, word, NOW).rule == "w"


def test_a_bad_regular_expression_is_refused():
    with pytest.raises(ValueError, match="regular expression"):
        QueueSettings(message_rules=[{"name": "x", "pattern": "(", "regex": True}])


def test_default_actions():
    s = QueueSettings()
    assert (s.strikes, s.max_removals_per_run, s.min_age <= 24 * 60) == (3, 10, True)
    for rule in ("failed", "missing_files", "debrid_error"):
        assert s.action_for(rule) == "blocklist_search"
    for rule in ("stalled", "slow"):
        assert s.action_for(rule) == "blocklist"


def test_strikes_count_reset_on_change_or_progress():
    it = item(status="failed")
    finding = classify(it, None, QueueSettings(), NOW)
    assert next_strikes(it, finding, None) == 1
    same = before(it, sizeleft=it.sizeleft, problem="failed", strikes=2)
    assert next_strikes(it, finding, same) == 3
    other = before(it, sizeleft=it.sizeleft, problem="stalled", strikes=2)
    assert next_strikes(it, finding, other) == 1
    progressed = before(it, sizeleft=it.sizeleft + MiB, problem="failed", strikes=2)
    assert next_strikes(it, finding, progressed) == 1
    assert next_strikes(it, None, same) == 0


def test_a_season_pack_is_one_download_with_every_episode():
    records = [{"id": 12, "downloadId": "H", "title": "Show.S01", "episodeId": 5, "seriesId": 1},
               {"id": 11, "downloadId": "H", "title": "Show.S01", "episodeId": 6, "seriesId": 1},
               {"id": 13, "downloadId": "", "title": "S01E12 other", "episodeId": 9, "seriesId": 2}]
    pack, other = group_records("sonarr", records)
    assert (pack.queue_id, pack.episode_ids, pack.queue_ids) == (11, [5, 6], [12, 11])
    assert (other.key, other.episode_ids) == ("queue:13", [9])  # never matched by title
