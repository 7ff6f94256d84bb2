"""Re-pointing links from the Scanner, in real headless Chromium: the proposal a person reads
for a renamed release folder, re-pointing one link and undoing it, and a moved mount's
preview and confirmation."""
from __future__ import annotations

import os

import pytest

from fakes.mediaserver import FakeMediaServer

from .test_browser_reading import scan
from .test_retarget import _releases

pytestmark = pytest.mark.browser


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


def test_a_renamed_release_is_proposed_re_pointed_and_undone_from_the_results(
        toolkit_server, browser_page, media_env, expect):
    page = browser_page
    store = media_env.store / "__all__"
    alpha, beta = _releases(media_env, ["Alpha.2020.1080p.WEB", "Beta.2021.2160p.WEB"])
    for link in (alpha, beta):
        os.rename(store / link.stem, store / f"{link.stem}-GRP")
    scan(page, toolkit_server, expect)

    page.get_by_role("button", name="Look for moved files…").click()
    broken = len(media_env.broken) + 2
    expect(page.locator("#sl-retarget-summary")).to_contain_text(
        f"2 of {broken} broken links have their file elsewhere on the mount.")
    row = page.locator(f'tr.sl-proposal[data-path="{alpha}"]')
    new = store / f"{alpha.stem}-GRP" / alpha.name
    expect(row.locator("td").nth(1)).to_contain_text(
        f"Re-point {store / alpha.stem / alpha.name} → {new} (same name (the old size is not known))")
    lost = page.locator(f'tr.sl-proposal[data-path="{media_env.broken[0]}"]')
    expect(lost.locator("td").nth(1)).to_contain_text("No new place found: 2 files named E03.mkv could be it")

    jellyfin = FakeMediaServer("jellyfin").start()
    try:
        saved = page.request.post(f"{toolkit_server}/api/toolkit/settings/jellyfin", data={
            "url": jellyfin.url, "api_key": jellyfin.token,
            "path_mappings": [{"toolkit_prefix": str(media_env.media), "arr_prefix": "/media"}]})
        assert saved.ok, saved.text()
        row.get_by_role("button", name="Re-point").click()
        expect(row).to_contain_text("1 link(s) re-pointed.")
        expect(row).to_contain_text("Jellyfin: asked to scan 1 folder(s)")  # the person is told who was told
        assert jellyfin.refreshes() == [[{"Path": "/media/Movies/Alpha", "UpdateType": "Modified"}]]
    finally:
        jellyfin.stop()
    assert os.readlink(alpha) == str(new) and os.readlink(beta) == str(store / beta.stem / beta.name)
    row.get_by_role("button", name="Undo").click()
    expect(row).to_contain_text("1 link(s) point at their old target again.")
    assert os.readlink(alpha) == str(store / alpha.stem / alpha.name)

    # later, from the Dashboard: the re-pointed links with their Undo
    page.locator(f'tr.sl-proposal[data-path="{beta}"]').get_by_role("button", name="Re-point").click()
    expect(page.locator(f'tr.sl-proposal[data-path="{beta}"]')).to_contain_text("1 link(s) re-pointed.")
    page.goto(f"{toolkit_server}/symlink?tab=dashboard")
    listed = page.locator(f'#sl-retargets tr[data-path="{beta}"]')
    expect(listed).to_contain_text(f"{store / beta.stem / beta.name} → {store / f'{beta.stem}-GRP' / beta.name}")
    expect(page.locator("#sl-retargets tbody tr")).to_have_count(1)  # alpha's was undone: not listed
    listed.get_by_role("button", name=f"Point {beta} at its old target again").click()
    expect(listed).to_contain_text("1 link(s) point at their old target again.")
    assert os.readlink(beta) == str(store / beta.stem / beta.name)


def test_a_moved_mount_is_previewed_then_confirmed(toolkit_server, browser_page, media_env, tmp_path, expect):
    page = browser_page
    old, new = media_env.store, tmp_path / "remote"
    os.rename(old, new)
    links = media_env.healthy + media_env.small + media_env.sidecars
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    page.get_by_text("Moved mount").click()
    page.get_by_label("Old folder").fill(str(old))
    page.get_by_label("New folder").fill(str(new))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#sl-prefix-summary")).to_contain_text(
        f"{len(links)} links would be re-pointed from {old} to {new}. {len(media_env.broken)} more point under "
        f"{old} but their file is not under {new}: they are left alone.")
    assert all(os.readlink(p).startswith(str(old)) for p in links)  # the preview changed nothing
    page.get_by_role("button", name=f"Re-point these {len(links)} links").click()
    expect(page.locator("#sl-prefix-result")).to_contain_text(f"{len(links)} link(s) re-pointed.")
    assert all(os.readlink(p).startswith(str(new)) and os.path.exists(p) for p in links)


def test_a_french_reader_reads_the_proposal_and_its_reasons_in_french(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})
    store = media_env.store / "__all__"
    (alpha,) = _releases(media_env, ["Alpha.2020.1080p.WEB"])
    os.rename(store / alpha.stem, store / f"{alpha.stem}-GRP")
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    page.locator(".sl-root .sl-dir").check()
    page.get_by_role("button", name="Lancer l’analyse").click()
    expect(page.locator('.sl-scan[data-status="completed"]')).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Chercher les fichiers déplacés…").click()
    expect(page.locator("#sl-retarget-summary")).to_contain_text(
        f"1 des {len(media_env.broken) + 1} liens cassés ont leur fichier ailleurs sur le montage.")
    row = page.locator(f'tr.sl-proposal[data-path="{alpha}"]')
    expect(row.locator("td").nth(1)).to_contain_text("(même nom (l’ancienne taille n’est pas connue))")
    lost = page.locator(f'tr.sl-proposal[data-path="{media_env.broken[0]}"]')
    expect(lost.locator("td").nth(1)).to_contain_text(
        "Aucun nouvel emplacement trouvé : 2 fichiers nommés E03.mkv pourraient convenir")
    row.get_by_role("button", name="Rediriger").click()
    expect(row).to_contain_text("1 lien(s) redirigé(s).")
    assert os.readlink(alpha) == str(store / f"{alpha.stem}-GRP" / alpha.name)
