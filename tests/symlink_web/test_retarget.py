"""Re-pointing links through the API: a scan's proposals, applying exactly the reviewed plan,
the journal and undo, a moved mount's preview, refusals while a mount is down, and the
media server told exactly the changed folders."""
from __future__ import annotations

import os

import pytest

from fakes.mediaserver import FakeMediaServer

from .conftest import wait_scan


async def _scan(client, media) -> dict:
    started = await (await client.post("/api/symlink/scan/start", json={
        "paths": [str(media)], "mode": "dry-run", "verification_depth": "basic"})).get_json()
    return await wait_scan(client, started["scan_id"])


async def _jellyfin(client, media) -> FakeMediaServer:
    fake = FakeMediaServer("jellyfin").start()
    saved = await client.post("/api/toolkit/settings/jellyfin", json={
        "url": fake.url, "api_key": fake.token,
        "path_mappings": [{"toolkit_prefix": str(media), "arr_prefix": "/media"}]})
    assert saved.status_code == 200, await saved.get_json()
    return fake


async def _remember_mount(app, mount_point: str) -> None:
    """An earlier scan saw a mount answering at ``mount_point`` (it is not mounted now: down)."""
    from toolkit.plugins.symlink.models import SymlinkKnownMount
    from toolkit.plugins.symlink.schema import utcnow
    from toolkit.web.app import current_toolkit

    async with app.app_context():
        async with current_toolkit().sessions() as session:
            session.add(SymlinkKnownMount(mount_point=mount_point, fstype="fuse.rclone", last_seen_healthy=utcnow()))
            await session.commit()


def _releases(library, names: list[str]) -> list:
    """Movie links into ``store/__all__/<release>/<release>.mkv`` (debrid-style unique names)."""
    links = []
    for name in names:
        target = library.store / "__all__" / name / f"{name}.mkv"
        target.parent.mkdir(parents=True)
        target.write_bytes(b"\x1a" * 4096)
        link = library.media / "Movies" / name.split(".")[0] / f"{name}.mkv"
        link.parent.mkdir(parents=True)
        os.symlink(target, link)
        links.append(link)
    return links


async def _life(app, path: str) -> str | None:
    from sqlalchemy import select

    from toolkit.plugins.symlink.history import SymlinkProblemLife
    from toolkit.web.app import current_toolkit

    async with app.app_context():
        async with current_toolkit().sessions() as session:
            return (await session.execute(select(SymlinkProblemLife.state).where(
                SymlinkProblemLife.path == path))).scalar_one_or_none()


async def test_a_renamed_release_folder_is_proposed_applied_journaled_told_and_undone(
        toolkit_app, toolkit_client, media_env):
    store = media_env.store
    links = _releases(media_env, ["Alpha.2020.1080p.WEB", "Beta.2021.2160p.WEB"])
    for name in ("Alpha.2020.1080p.WEB", "Beta.2021.2160p.WEB"):
        os.rename(store / "__all__" / name, store / "__all__" / f"{name}-GRP")
    final = await _scan(toolkit_client, media_env.media)

    response = await toolkit_client.post(f"/api/symlink/scans/{final['scan_id']}/retarget", json={})
    plan = await response.get_json()
    assert response.status_code == 200, plan
    proposed = {p["path"]: p["new_target"] for p in plan["proposals"] if p["new_target"]}
    assert proposed == {str(link): str(store / "__all__" / f"{link.stem}-GRP" / link.name) for link in links}
    # E03.mkv is lost for Show 1, and other shows have a file of that name: not proposed
    [ambiguous] = [p for p in plan["proposals"] if p["path"] == str(media_env.broken[0])]
    assert ambiguous["new_target"] is None and ambiguous["reason"] == "2 files named E03.mkv could be it"
    one = str(links[0])

    fake = await _jellyfin(toolkit_client, media_env.media)
    try:
        stale = await toolkit_client.post("/api/symlink/retarget/apply", json={"token": "0" * 32})
        assert stale.status_code == 409 and (await stale.get_json())["error"]["code"] == "stale_plan"
        outside = await toolkit_client.post("/api/symlink/retarget/apply",
                                            json={"token": plan["token"], "paths": [str(media_env.broken[0])]})
        assert outside.status_code == 409 and os.readlink(media_env.broken[0]) == str(
            store / "Show 1" / "E03.mkv")

        applied = await (await toolkit_client.post("/api/symlink/retarget/apply",
                                                   json={"token": plan["token"], "paths": [one]})).get_json()
        assert applied["retargeted"] == 1 and os.readlink(one) == proposed[one] and os.path.exists(one)
        assert fake.refreshes() == [[{"Path": "/media/Movies/Alpha", "UpdateType": "Modified"}]]
        journal = await (await toolkit_client.get("/api/symlink/retargets")).get_json()
        [entry] = journal["items"]
        assert (entry["path"], entry["new_target"], entry["state"], entry["kind"]) == (
            one, proposed[one], "retargeted", "proposal")
        problems = (await (await toolkit_client.get(f"/api/symlink/scans/{final['scan_id']}")).get_json())["problems"]
        assert next(i for i in problems["items"] if i["path"] == one)["outcome"] == "retargeted"
        assert await _life(toolkit_app, one) == "retargeted"

        undone = await (await toolkit_client.post("/api/symlink/retarget/undo",
                                                  json={"journal_ids": [entry["journal_id"]]})).get_json()
        assert undone["undone"] == 1 and os.readlink(one) == str(store / "__all__" / links[0].stem / links[0].name)
        assert fake.refreshes()[1] == [{"Path": "/media/Movies/Alpha", "UpdateType": "Modified"}]
        assert await _life(toolkit_app, one) == "new"  # an open problem again (found once)
        assert (await (await toolkit_client.get("/api/symlink/retargets?state=undone")).get_json())["total"] == 1
        assert fake.violations == []
    finally:
        fake.stop()


async def test_a_moved_mount_is_previewed_with_counts_then_applied_and_refused_once_it_is_down(
        toolkit_app, toolkit_client, media_env, tmp_path):
    old, new = media_env.store, tmp_path / "remote"
    os.rename(old, new)
    (new / "Show 2" / "E01.mkv").unlink()  # a file the new mount does not have: left alone
    links = media_env.healthy + media_env.small + media_env.sidecars
    expected = [p for p in links if os.path.exists(str(os.readlink(p)).replace(str(old), str(new), 1))]

    refused = await toolkit_client.post("/api/symlink/retarget/prefix", json={"from": str(old), "to": "relative"})
    assert refused.status_code == 400 and "to" in (await refused.get_json())["error"]["fields"]
    response = await toolkit_client.post("/api/symlink/retarget/prefix", json={"from": str(old), "to": str(new)})
    preview = await response.get_json()
    assert response.status_code == 200, preview
    assert (preview["count"], preview["missing"], preview["matching"]) == (
        len(expected), len(links) + len(media_env.broken) - len(expected), len(links) + len(media_env.broken))
    assert {s["path"] for s in preview["sample"]} <= {str(p) for p in expected} and len(preview["sample"]) == min(
        20, len(expected))
    assert all(os.readlink(p).startswith(str(old)) for p in links)  # a preview changes nothing

    await _remember_mount(toolkit_app, str(new))  # the new mount is known, and not mounted: down
    down = await toolkit_client.post("/api/symlink/retarget/apply", json={"token": preview["token"]})
    assert down.status_code == 409 and (await down.get_json())["error"]["code"] == "mount_down"
    assert all(os.readlink(p).startswith(str(old)) for p in links)
    again = await toolkit_client.post("/api/symlink/retarget/prefix", json={"from": str(old), "to": str(new)})
    assert again.status_code == 409 and (await again.get_json())["error"]["code"] == "mount_down"


async def test_applying_a_moved_mount_re_points_every_previewed_link(toolkit_app, toolkit_client, media_env, tmp_path):
    old, new = media_env.store, tmp_path / "remote"
    os.rename(old, new)
    await _remember_mount(toolkit_app, str(old))  # the old mount, gone on purpose, does not stop it
    preview = await (await toolkit_client.post("/api/symlink/retarget/prefix",
                                               json={"from": str(old), "to": str(new)})).get_json()
    applied = await (await toolkit_client.post("/api/symlink/retarget/apply",
                                               json={"token": preview["token"]})).get_json()
    links = media_env.healthy + media_env.small + media_env.sidecars
    assert applied["retargeted"] == preview["count"] == len(links)
    assert all(os.readlink(p).startswith(str(new)) and os.path.exists(p) for p in links)
    assert all(os.readlink(p).startswith(str(old)) for p in media_env.broken)
    undone = await (await toolkit_client.post("/api/symlink/retarget/undo",
                                              json={"batch": applied["batch"]})).get_json()
    assert undone["undone"] == len(links) and all(os.readlink(p).startswith(str(old)) for p in links)


@pytest.mark.parametrize("body", [{}, {"token": 5}, {"token": "x" * 65}, {"token": "t", "paths": "x"}])
async def test_bad_apply_bodies_are_refused_by_name(toolkit_client, body):
    response = await toolkit_client.post("/api/symlink/retarget/apply", json=body)
    assert response.status_code == 422
