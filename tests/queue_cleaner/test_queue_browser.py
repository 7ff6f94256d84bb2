"""The page ``/queue`` in headless Chromium: a user checks the queues, reviews and applies
the plan, undoes an action from the journal and edits the rules, reading what a person reads."""
from __future__ import annotations


import pytest
from screenshots import shoot

from .conftest import failed_pack

pytestmark = pytest.mark.browser




def test_check_review_apply_undo_and_rules(arr, toolkit_server, browser_page):
    from playwright.sync_api import expect
    sonarr = arr("sonarr")
    _series, episodes, _records = failed_pack(sonarr)
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{toolkit_server}/")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", name="Queue cleaner")).to_be_visible()
    expect(page.get_by_text("No check yet")).to_be_visible()

    def check():
        with page.expect_response("**/queue/check"):
            page.get_by_role("button", name="Check now").click()

    check()
    expect(page.get_by_text("Checked: 1 download(s) in the queues, 0 in the plan.")).to_be_visible()
    page.get_by_role("tab", name="Queue").click()
    row = page.get_by_role("row", name="Show.S01.1080p.WEB-GRP")
    expect(row).to_contain_text("failed")
    expect(row.get_by_role("cell").last).to_have_text("1")  # one strike so far

    check()
    check()
    expect(page.get_by_text("1 in the plan")).to_be_visible()
    entry = page.get_by_role("row", name="Show.S01.1080p.WEB-GRP")
    ids = ", ".join(str(e["id"]) for e in episodes)
    expect(entry).to_contain_text("blocklist, then search exactly the affected episodes/movie")
    expect(entry).to_contain_text(f"episodes {ids}")
    assert sonarr.queue_removals == []
    shoot(page, "queue-plan", phone=False)

    page.get_by_role("button", name="Apply 1 action(s)").click()
    expect(page.get_by_text("Done: Show.S01.1080p.WEB-GRP")).to_be_visible()
    expect(page.get_by_text("This plan was applied")).to_be_visible()
    assert sonarr.command_names() == ["EpisodeSearch"] and len(sonarr.blocklist) == 1

    page.get_by_role("tab", name="Journal").click()
    expect(page).to_have_url(f"{toolkit_server}/queue?tab=journal")
    shoot(page, "queue-journal", phone=False)
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status")).to_contain_text("Undone: blocklist entry")
    expect(page.get_by_role("cell", name="Done: removed")).to_contain_text("Undone: blocklist entry")
    expect(page.get_by_role("button", name="Undo")).to_have_count(0)
    assert sonarr.blocklist == [] and sonarr.command_names() == ["EpisodeSearch"] * 2

    page.get_by_role("tab", name="Rules").click()
    page.get_by_label("Strikes").fill("0")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_role("alert")).to_contain_text("must be at least 1")
    page.get_by_label("Strikes").fill("4")
    page.get_by_label("Message rules").fill("bloque: *importation bloquée* => blocklist")
    page.get_by_label("When the download failed").select_option("ignore")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_text("Rules saved.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Strikes")).to_have_value("4")
    expect(page.get_by_label("Message rules")).to_have_value("bloque: *importation bloquée* => blocklist")
    expect(page.get_by_label("When the download failed")).to_have_value("ignore")
