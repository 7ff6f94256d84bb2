"""A life for each problem across real scans of a real library on disk (issue 16 item 3),
and the trend rows that outlive the 3-scan rotation (item 4)."""
from __future__ import annotations

import os
import sqlite3

from fakes.arr_server import FakeArr
from fakes.library import MEDIA_BYTES

from .conftest import wait_job, wait_scan
from .lost_episode import lost_episode, scan_and_delete


async def scan(client, paths=None, mode="dry-run", library=None) -> dict:
    response = await client.post("/api/symlink/scan/start", json={
        "paths": paths or [str(library.media)], "mode": mode, "verification_depth": "basic"})
    body = await response.get_json()
    assert response.status_code == 202, body
    final = await wait_scan(client, body["scan_id"])
    assert final["status"] == "completed", final
    return final


def lives(config) -> dict[str, dict]:
    with sqlite3.connect(config.data_dir / "toolkit.db") as db:
        db.row_factory = sqlite3.Row
        return {row["path"]: dict(row) for row in db.execute("SELECT * FROM symlink_problem_lives")}


def rows(config, query: str) -> list[tuple]:
    with sqlite3.connect(config.data_dir / "toolkit.db") as db:
        return db.execute(query).fetchall()


def heal(link) -> None:
    """Give a broken link's target real content: the link is fine again."""
    with open(os.readlink(link), "wb") as handle:
        handle.truncate(MEDIA_BYTES)
        handle.write(b"\x1a\x45\xdf\xa3")


async def test_a_problem_is_new_then_seen_again_then_fixed_then_coming_back(toolkit_client, toolkit_config, media_env):
    library = media_env
    first = await scan(toolkit_client, library=library)
    known = lives(toolkit_config)
    assert set(known) == {str(p) for p in library.problems}
    assert {life["state"] for life in known.values()} == {"new"}
    assert {life["last_scan_id"] for life in known.values()} == {first["scan_id"]}

    await scan(toolkit_client, library=library)
    again = lives(toolkit_config)
    assert {(life["state"], life["times_seen"]) for life in again.values()} == {("seen", 2)}
    assert all(again[p]["first_seen"] == known[p]["first_seen"] for p in again)

    healed, removed, *_ = library.broken
    heal(healed)
    os.unlink(removed)
    third = await scan(toolkit_client, library=library)
    after = lives(toolkit_config)
    assert (after[str(healed)]["state"], after[str(healed)]["fixed_how"]) == ("fixed", "healthy")
    assert (after[str(removed)]["state"], after[str(removed)]["fixed_how"]) == ("fixed", "gone")
    still = set(after) - {str(healed), str(removed)}
    assert {(after[p]["state"], after[p]["times_seen"]) for p in still} == {("seen", 3)}
    trend = rows(toolkit_config, "SELECT new_problems, fixed_problems, tracked_problems, resolved_problems "
                                 f"FROM symlink_scan_trends WHERE scan_id = '{third['scan_id']}'")
    assert trend == [(0, 2, len(library.problems), 2)]

    os.unlink(os.readlink(healed))  # broken again
    await scan(toolkit_client, library=library)
    back = lives(toolkit_config)[str(healed)]
    assert (back["state"], back["times_back"], back["times_seen"], back["fixed_at"]) == ("back", 1, 3, None)


async def test_a_scan_of_one_folder_fixes_nothing_in_the_others(toolkit_client, toolkit_config, media_env):
    library = media_env
    await scan(toolkit_client, library=library)
    show1 = str(library.media / "Show 1")
    await scan(toolkit_client, [show1], library=library)
    states = {path: life["state"] for path, life in lives(toolkit_config).items()}
    assert {s for p, s in states.items() if p.startswith(show1 + "/")} == {"seen"}
    assert {s for p, s in states.items() if not p.startswith(show1 + "/")} == {"new"}


async def test_ignored_stays_ignored_then_reopens_when_unignored(toolkit_client, toolkit_config, media_env):
    library = media_env
    first = await scan(toolkit_client, library=library)
    items = (await (await toolkit_client.get(f"/api/symlink/scans/{first['scan_id']}")).get_json())["problems"]["items"]
    victim = items[0]
    response = await toolkit_client.post("/api/symlink/ignores", json={"problem_id": victim["id"]})
    assert response.status_code == 201
    assert lives(toolkit_config)[victim["path"]]["state"] == "ignored"
    await scan(toolkit_client, library=library)
    life = lives(toolkit_config)[victim["path"]]
    assert (life["state"], life["times_seen"]) == ("ignored", 2)
    ignore_id = (await (await toolkit_client.get("/api/symlink/ignores")).get_json())[0]["id"]
    await toolkit_client.delete(f"/api/symlink/ignores/{ignore_id}")
    assert lives(toolkit_config)[victim["path"]]["state"] == "seen"


async def test_deleted_then_gone_on_the_next_scan_is_fixed(toolkit_app, toolkit_client, toolkit_config, media_env):
    library = media_env
    final = await scan(toolkit_client, mode="real", library=library)
    deletion = final["deletion"]
    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/delete",
                                         json={"all": True, "token": deletion["token"], "override": True})
    job = await wait_job(toolkit_app, (await response.get_json())["job_id"])
    assert job.state == "completed" and job.result["deleted"] == len(library.problems)
    assert {life["state"] for life in lives(toolkit_config).values()} == {"deleted"}
    assert rows(toolkit_config, "SELECT deleted FROM symlink_scan_trends "
                                f"WHERE scan_id = '{final['scan_id']}'") == [(len(library.problems),)]
    await scan(toolkit_client, library=library)
    assert {(life["state"], life["fixed_how"]) for life in lives(toolkit_config).values()} == {("fixed", "gone")}


async def test_trend_rows_outlive_the_three_scan_rotation(toolkit_client, toolkit_config, media_env):
    library = media_env
    ids = [(await scan(toolkit_client, library=library))["scan_id"] for _ in range(5)]
    assert len(rows(toolkit_config, "SELECT id FROM symlink_scans")) == 3
    trends = rows(toolkit_config, "SELECT scan_id, problems_found, new_problems, status, mount_health "
                                  "FROM symlink_scan_trends ORDER BY scan_date")
    count = len(library.problems)
    assert trends == [(ids[0], count, count, "completed", "healthy")] + [
        (scan_id, count, 0, "completed", "healthy") for scan_id in ids[1:]]


async def test_recheck_now_and_mark_fixed_by_hand(toolkit_client, toolkit_config, media_env):
    library = media_env
    await scan(toolkit_client, library=library)
    healed, still, by_hand, *_ = library.broken
    ids = {path: life["id"] for path, life in lives(toolkit_config).items()}
    heal(healed)
    body = await (await toolkit_client.post(f"/api/symlink/lives/{ids[str(healed)]}/recheck")).get_json()
    assert (body["verdict"], body["state"], body["fixed_how"]) == ("healthy", "fixed", "recheck")
    body = await (await toolkit_client.post(f"/api/symlink/lives/{ids[str(still)]}/recheck")).get_json()
    assert (body["verdict"], body["state"], body["status"]) == ("problem", "new", "BROKEN")
    assert body["check_result"].startswith("problem: target missing")
    body = await (await toolkit_client.post(f"/api/symlink/lives/{ids[str(by_hand)]}/fixed")).get_json()
    assert (body["state"], body["fixed_how"]) == ("fixed", "hand")
    listed = await (await toolkit_client.get("/api/symlink/lives", query_string={"state": "fixed"})).get_json()
    assert sorted(item["path"] for item in listed["items"]) == sorted([str(healed), str(by_hand)])
    assert listed["counts"]["fixed"] == 2 and listed["counts"]["new"] == len(library.problems) - 2
    # the hand fix did not hold: the next scan finds it again
    await scan(toolkit_client, library=library)
    after = lives(toolkit_config)
    assert (after[str(by_hand)]["state"], after[str(healed)]["state"]) == ("back", "fixed")
    for url in ("/api/symlink/lives/999999/recheck", "/api/symlink/lives/999999/fixed"):
        response = await toolkit_client.post(url)
        assert response.status_code == 404 and "no tracked problem 999999" in await response.get_data(as_text=True)
    assert (await toolkit_client.post(f"/api/symlink/lives/{2**70}/fixed")).status_code == 404
    shown = await (await toolkit_client.post("/symlink/lives/999999/recheck")).get_data(as_text=True)
    assert "no tracked problem 999999" in shown  # the page says it in place
    assert (await toolkit_client.get("/api/symlink/lives", query_string={"state": "bogus"})).status_code == 400
    trends = (await (await toolkit_client.get("/api/symlink/trends")).get_json())["items"]
    assert [(t["new_problems"], t["fixed_problems"], t["back_problems"]) for t in trends] == [
        (len(library.problems), 0, 0), (0, 1, 1)]


async def test_deleted_and_researched_by_sonarr_then_fixed(toolkit_app, toolkit_client, toolkit_config, tmp_path, monkeypatch):
    fake = FakeArr("sonarr").start()
    try:
        lib = lost_episode(tmp_path, monkeypatch, fake)
        media, store, lost = lib["media"], lib["store"], lib["lost"]
        final, job = await scan_and_delete(toolkit_app, toolkit_client, fake, media, override=True)
        assert job.result["repair"]["outcomes"] == {"searched": 1}
    finally:
        fake.stop()
    assert lives(toolkit_config)[str(lost)]["state"] == "researched"
    assert rows(toolkit_config, "SELECT deleted, repaired FROM symlink_scan_trends "
                                f"WHERE scan_id = '{final['scan_id']}'") == [(1, 1)]
    # Sonarr brought a good file back under the same name: the next scan finds it healthy
    good = store / "new.mkv"
    with open(good, "wb") as handle:
        handle.truncate(MEDIA_BYTES)
    os.symlink(good, lost)
    await scan(toolkit_client, [str(media)])
    life = lives(toolkit_config)[str(lost)]
    assert (life["state"], life["fixed_how"]) == ("fixed", "healthy")


async def test_a_failing_lives_step_leaves_the_scan_completed(toolkit_app, toolkit_client, toolkit_config, media_env):
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:
        db.execute("DROP TABLE symlink_problem_lives")  # the step cannot write
    final = await scan(toolkit_client, library=media_env)
    assert final["problems_found"] == len(media_env.problems)
    job = await wait_job(toolkit_app, final["job_id"])
    assert job.state == "completed" and "symlink_problem_lives" in job.result["lives_error"]
