"""The media servers page in a real browser: a person saves a Jellyfin and a Plex connection,
presses Test and reads who answered; a wrong key reads as a failure, never as the server's
page."""
from __future__ import annotations

import pytest

from fakes.mediaserver import SECRET_MARKER, FakeMediaServer

pytestmark = pytest.mark.browser


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


def test_saving_and_testing_each_media_server_from_its_card(toolkit_server, browser_page, expect):
    page = browser_page
    jellyfin, plex = FakeMediaServer("jellyfin").start(), FakeMediaServer("plex").start()
    try:
        page.goto(f"{toolkit_server}/")
        page.get_by_role("link", name="Media servers").click()
        card = page.locator("#mediaserver-jellyfin")
        card.get_by_label("Address").fill(jellyfin.url)
        card.get_by_label("API key").fill("wrong-key")
        card.get_by_label("Path mappings").fill("/media = /data")
        card.get_by_role("button", name="Save").click()
        card = page.locator("#mediaserver-jellyfin")
        expect(card).to_contain_text("Jellyfin settings saved.")
        expect(card.get_by_label("API key")).to_have_value("********")  # the key is never shown again
        expect(card.get_by_label("Path mappings")).to_have_value("/media = /data")

        card.get_by_role("button", name="Test the Jellyfin connection").click()
        card = page.locator("#mediaserver-jellyfin")
        expect(card.get_by_role("alert")).to_contain_text("The test failed:")
        expect(page.locator("body")).not_to_contain_text(SECRET_MARKER)

        card.get_by_label("API key").fill(jellyfin.token)
        card.get_by_role("button", name="Save").click()
        page.locator("#mediaserver-jellyfin").get_by_role("button", name="Test the Jellyfin connection").click()
        expect(page.locator("#mediaserver-jellyfin [role=status]")).to_have_text(
            "Connected: fake jellyfin (Jellyfin 10.10.7).")

        card = page.locator("#mediaserver-plex")
        card.get_by_label("Address").fill(plex.url)
        card.get_by_label("Token (X-Plex-Token)").fill(plex.token)
        card.get_by_label("Empty the trash after a refresh").check()
        card.get_by_label("Items the trash may hold to be emptied").fill("3")
        card.get_by_role("button", name="Save").click()
        card = page.locator("#mediaserver-plex")
        expect(card).to_contain_text("Plex settings saved.")
        expect(card.get_by_label("Empty the trash after a refresh")).to_be_checked()
        expect(card.get_by_label("Items the trash may hold to be emptied")).to_have_value("3")
        page.locator("#mediaserver-plex").get_by_role("button", name="Test the Plex connection").click()
        expect(page.locator("#mediaserver-plex [role=status]")).to_have_text(
            "Connected: fake plex (Plex 1.41.3.9314).")
        expect(page.locator("#mediaserver-emby")).not_to_contain_text("Connected")
        assert jellyfin.violations == [] and plex.violations == []
    finally:
        jellyfin.stop()
        plex.stop()


def test_testing_a_server_without_an_address_says_what_is_missing(toolkit_server, browser_page, expect):
    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=settings")  # the symlink settings lead there too
    page.locator("#sl-mediaservers-link").click()
    expect(page.locator("h1")).to_have_text("Media servers")
    page.locator("#mediaserver-emby").get_by_role("button", name="Test the Emby connection").click()
    expect(page.locator("#mediaserver-emby [role=alert]")).to_have_text("The test failed: emby has no address or key")
