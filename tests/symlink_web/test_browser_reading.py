"""The symlink page as a person reads it, in real headless Chromium (Playwright) against the
app served by hypercorn: each test walks one of the defects found by using the page and
checks the text on screen, not only that an element exists."""
from __future__ import annotations

import os
import re

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


def change(page, field, value: str) -> None:
    """Type a value as a person does and wait for the autosave's answer."""
    field.fill(value)
    with page.expect_response(re.compile(r"/symlink/settings(/notifications)?$")):
        field.dispatch_event("change")


def scan(page, url: str, expect, *, real: bool = False) -> str:
    """A basic scan of the whole media path from the Scanner tab (dry run unless ``real``);
    its id."""
    page.goto(f"{url}/symlink?tab=scanner")
    page.locator(".sl-root .sl-dir").check()
    if real:
        page.locator('input[name="mode"][value="real"]').check()
    page.locator("#sl-start").click()
    expect(page.locator('.sl-scan[data-status="completed"]')).to_be_visible(timeout=30_000)
    expect(page.locator("#sl-results table")).to_be_visible()
    return re.search(r"scan=([\w-]+)", page.url).group(1)


def test_the_deletion_dialog_says_each_links_type_and_why(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    scan(page, toolkit_server, expect, real=True)
    page.locator("#sl-review-delete").click()
    dialog = page.locator("#sl-dialog")
    expect(dialog).to_contain_text(f"Delete {len(media_env.problems)} symlinks?")
    expect(dialog).not_to_contain_text("XXX")
    for link in media_env.broken:
        row = dialog.locator(f'tr[data-path="{link}"]')
        expect(row.locator("td").nth(1)).to_have_text("BROKEN")
        expect(row.locator("td").nth(2)).to_contain_text("target missing")
    for link in media_env.small:
        row = dialog.locator(f'tr[data-path="{link}"]')
        expect(row.locator("td").nth(1)).to_have_text("SMALL_FILE")
        expect(row.locator("td").nth(2)).to_contain_text("100 bytes")


def test_an_empty_selection_never_becomes_all(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    scan_id = scan(page, toolkit_server, expect, real=True)
    button = page.locator("#sl-delete-selected")
    expect(button).to_be_disabled()
    expect(page.locator("#sl-picked-count")).to_have_text("Tick the links to delete only some of them.")
    picks = page.locator(".sl-pick")
    picks.nth(0).check()
    picks.nth(1).check()
    expect(page.locator("#sl-picked-count")).to_have_text("2 links ticked.")
    expect(button).to_be_enabled()
    picks.nth(1).uncheck()
    expect(page.locator("#sl-picked-count")).to_have_text("1 link ticked.")
    button.click()
    dialog = page.locator("#sl-dialog")
    expect(dialog.locator("h2")).to_have_text("Delete 1 symlink?")
    dialog.get_by_role("button", name="Cancel").click()

    # the server refuses an empty selection too, whatever the page sends
    shown = page.request.get(f"{toolkit_server}/symlink/scans/{scan_id}/confirm?picked=1",
                             headers={"HX-Request": "true"}).text()
    assert "Tick the links to delete first." in shown and "Delete " not in shown
    refused = page.request.post(f"{toolkit_server}/symlink/scans/{scan_id}/delete",
                                form={"picked": "1", "token": ""}).text()
    assert "Tick the links to delete first." in refused
    assert all(os.path.islink(p) for p in media_env.problems)


def test_a_wrong_setting_says_not_saved_and_later_fields_still_save(toolkit_server, browser_page, tmp_path, expect):
    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    state = page.locator("#sl-save-state")
    expect(state).to_have_text("Changes are saved automatically.")
    workers = page.locator('input[name="max_workers"]')
    change(page, workers, "0")
    expect(state).to_contain_text("Not saved")
    expect(page.locator("#err-max_workers")).to_have_text("must be at least 1")
    host = page.locator('input[name="sonarr_host"]')
    change(page, host, "sonarr.lan")
    # still not saved: the wrong field is still there, and said so
    expect(page.locator("#err-max_workers")).to_have_text("must be at least 1")
    expect(state).to_contain_text("Not saved")
    expect(state).to_contain_text("the other settings are saved")
    media = page.locator('input[name="media_path"]')
    change(page, media, "relative/path")
    expect(page.locator("#err-media_path")).to_have_text("must be an absolute path (starting with /)")
    change(page, media, str(tmp_path))
    expect(page.locator("#err-media_path")).to_have_text("Saved ✓")
    change(page, workers, "4")
    expect(state).to_have_text("Saved ✓")
    expect(page.locator("#err-max_workers")).to_have_text("Saved ✓")
    page.reload()
    expect(page.locator('input[name="sonarr_host"]')).to_have_value("sonarr.lan")
    expect(page.locator('input[name="max_workers"]')).to_have_value("4")


def test_test_connection_answers_every_click(toolkit_server, browser_page, expect):
    from toolkit.testing import free_port

    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    test = page.locator("#sl-test-sonarr")
    result = page.locator("#sl-test-result-sonarr")
    test.click()
    expect(result).to_contain_text("Sonarr is not configured")
    expect(page.locator("#sl-save-state")).to_have_text("Changes are saved automatically.")
    section = page.locator("section", has=test)
    section.locator('input[name="sonarr_enabled"][type="checkbox"]').check()
    for name, value in (("sonarr_host", "127.0.0.1"), ("sonarr_port", str(free_port()))):
        change(page, section.locator(f'input[name="{name}"]'), value)
    expect(page.locator("#sl-save-state")).to_have_text("Saved ✓")
    test.click()
    expect(result).to_have_text("✗ Sonarr is enabled but api_key is empty")  # said plainly
    # typed, then Test at once, as a person does: leaving the field saves it, and the test
    # waits for that save instead of testing the old settings (or being dropped)
    section.locator('input[name="sonarr_api_key"]').fill("0123456789abcdef")
    test.click()  # the third click is answered, and the stale "not configured" goes
    expect(result).not_to_contain_text("not configured")
    expect(result).to_contain_text("✗")
    expect(result).to_contain_text("127.0.0.1")
    result.evaluate("node => node.textContent = ''")
    test.click()  # and a fourth
    expect(result).to_contain_text("127.0.0.1")


def test_ignore_and_undo_keep_the_counts_in_agreement(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    scan(page, toolkit_server, expect)
    broken = len(media_env.broken)
    stats_broken = page.locator(".sl-stats div", has_text="Broken").locator("dd")
    ignored = page.locator("#sl-ignored")
    option = page.locator('#sl-filter-status option[value="BROKEN"]')
    expect(stats_broken).to_have_text(str(broken))
    expect(ignored).to_have_text("0")
    expect(option).to_have_text(f"BROKEN ({broken})")

    first = media_env.broken[0]
    page.locator(f'tr[data-path="{first}"]').get_by_role(
        "button", name=f"Ignore {first} in this and future scans").click()
    flash = page.locator("#sl-results .sl-flash")
    expect(flash).to_contain_text("Ignored")
    expect(flash).to_contain_text("it is no longer listed, here or in later scans")
    expect(page.locator(f'tr[data-path="{first}"]')).to_have_count(0)
    # what the scan found = what is listed + what is ignored, and every figure says so
    expect(stats_broken).to_have_text(str(broken))
    expect(ignored).to_have_text("1")
    expect(option).to_have_text(f"BROKEN ({broken - 1})")
    expect(page.locator("#sl-results-count")).to_have_text(
        f"({len(media_env.problems) - 1} · 1 ignored, not listed)")

    page.get_by_role("button", name="Undo", exact=True).click()
    expect(flash).to_contain_text("is listed again")
    expect(page.locator(f'tr[data-path="{first}"]')).to_have_count(1)
    expect(ignored).to_have_text("0")
    expect(option).to_have_text(f"BROKEN ({broken})")

    # an ignored link can also be listed again from the "Ignored only" view
    page.locator(f'tr[data-path="{first}"]').get_by_role(
        "button", name=f"Ignore {first} in this and future scans").click()
    expect(ignored).to_have_text("1")
    expect(page.locator(".htmx-added")).to_have_count(0)  # htmx has set up the new list
    page.locator('#sl-results select[name="ignored"]').select_option("only")
    row = page.locator(f'tr[data-path="{first}"]')
    expect(row).to_contain_text("(ignored)")
    row.get_by_role("button", name="Stop ignoring").click()
    expect(ignored).to_have_text("0")
    expect(page.locator("#sl-results .tk-empty")).to_have_text("No problem of this kind in this scan.")


def test_progress_text_never_says_waiting_at_the_end(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    page.evaluate("""() => { window.seen = [];
      document.addEventListener('htmx:afterSettle', () => {
        const p = document.querySelector('.sl-progress'); if (p) window.seen.push(p.innerText); }); }""")
    page.locator(".sl-root .sl-dir").check()
    page.locator("#sl-start").click()
    expect(page.locator('.sl-scan[data-status="completed"]')).to_be_visible(timeout=30_000)
    seen = page.evaluate("window.seen")
    assert seen, "no progress was shown"
    for text in seen:
        assert "Waiting to start" not in text and "0 min 0 s" not in text, text


async def test_progress_fragment_names_each_phase(toolkit_app):
    from quart import render_template

    base = {"scan_id": "s1", "mode": "dry-run", "verification_depth": "basic", "selected_paths": [],
            "statistics": {}, "live": {"done": 0, "total": None, "rate": None, "counters": {}}}
    async with toolkit_app.test_request_context("/symlink"):
        async def text(**scan) -> str:
            html = await render_template("symlink/_scan.html", scan={**base, **scan})
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()

        done = await text(status="running", phase="done", progress=100.0, eta=0)
        assert "Finishing: saving the results…" in done and "left" not in done and "Waiting" not in done
        starting = await text(status="running", phase="queued", progress=None, eta=None)
        assert "Starting…" in starting
        queued = await text(status="queued", phase="queued", progress=None, eta=None)
        assert "Waiting for a free slot" in queued
        running = await text(status="running", phase="phase1", progress=40.0, eta=75,
                             live={"done": 40, "total": 100, "rate": 12.5, "counters": {}})
        assert "Phase 1 — checking links: 40 / 100 · 12.5/s · about 1 min 15 s left" in running


def test_new_schedule_form_can_be_saved_twice_and_real_needs_the_opt_in(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    page.goto(f"{toolkit_server}/symlink?tab=schedules")
    form = page.locator("#sl-schedule-form")
    real = form.locator('input[name="mode"][value="real"]')
    expect(real).to_be_disabled()
    expect(form).to_contain_text("Real mode needs “Scheduled deletions” turned on in Settings.")
    form.get_by_role("button", name="Save schedule").click()
    expect(page.locator(".sl-flash")).to_contain_text("Schedule “nightly” saved")
    expect(page.locator(".htmx-added")).to_have_count(0)
    page.locator("#sl-schedule-form").get_by_role("button", name="Save schedule").click()
    expect(page.locator(".sl-flash")).to_contain_text("Schedule “nightly 2” saved")
    expect(page.locator('tr[data-schedule^="nightly"]')).to_have_count(2)

    page.request.post(f"{toolkit_server}/api/symlink/config", data={"scheduled_deletions": True})
    page.goto(f"{toolkit_server}/symlink?tab=schedules")
    form = page.locator("#sl-schedule-form")
    form.locator('input[name="mode"][value="real"]').check()
    page.request.post(f"{toolkit_server}/api/symlink/config", data={"scheduled_deletions": False})
    form.get_by_role("button", name="Save schedule").click()
    expect(page.locator("#sched-err-mode")).to_contain_text("Scheduled deletions")
    # said once, not twice
    expect(page.locator("#sl-schedule-form").get_by_text("Scheduled deletions")).to_have_count(1)


def test_folder_counts_follow_a_deletion_and_select_all_gives_an_estimate(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    total = len(media_env.healthy + media_env.problems + media_env.sidecars)
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    root_count = page.locator(".sl-root .sl-count")
    expect(root_count).to_have_text(f"{total} links", timeout=15_000)
    page.locator("#sl-select-all").check()
    expect(page.locator("#sl-estimate")).to_contain_text(f"4 folder(s), {2 * total} links")
    scan(page, toolkit_server, expect, real=True)
    page.locator("#sl-review-delete").click()
    expect(page.locator("#sl-dialog h2")).to_have_text(f"Delete {len(media_env.problems)} symlinks?")
    page.locator("#sl-confirm-delete").click()
    expect(page.locator(".sl-deletion-done")).to_contain_text(f"{len(media_env.problems)} deleted", timeout=30_000)
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    expect(root_count).to_have_text(f"{total - len(media_env.problems)} links", timeout=15_000)


def test_dry_run_results_read_in_order_with_a_real_mode_button(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    scan(page, toolkit_server, expect)
    paths = page.locator("#sl-results tbody tr").evaluate_all("rows => rows.map(r => r.dataset.path)")
    assert paths == sorted(str(p) for p in media_env.problems)
    headers = page.locator("#sl-results thead th").all_inner_texts()
    assert [h.strip() for h in headers][:2] == ["Link", "Type"] and "Outcome" not in headers  # not always "—"
    expect(page.locator(".sl-dry-run")).to_contain_text("Dry run: nothing was deleted.")
    page.get_by_role("button", name="Re-run in real mode").click()
    expect(page.locator('.sl-scan[data-status="completed"] h2')).to_contain_text("real", timeout=30_000)
    expect(page.locator("#sl-review-delete")).to_have_text(f"Review and delete {len(media_env.problems)} links…")


def test_notification_test_says_why_and_stored_urls_show_their_host(toolkit_server, browser_page, expect):
    from toolkit.testing import free_port

    page = browser_page
    port = free_port()
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    urls = page.locator('#sl-notifications textarea[name="urls"]')
    change(page, urls, f"json://127.0.0.1:{port}/hook\nntfys://ntfy.sh/my-secret-topic")
    expect(page.locator("#sl-notify-state")).to_have_text("Saved ✓")
    page.get_by_role("button", name="Send a test").click()
    result = page.locator("#sl-notify-test-result")
    expect(result).to_contain_text("delivery failed: ", timeout=30_000)
    expect(result).to_contain_text("A Connection error occurred sending JSON notification to 127.0.0.1")
    page.reload()
    expect(page.locator("#sl-notify-stored")).to_contain_text(
        f"Stored and hidden: json://127.0.0.1:{port}/…, ntfys://ntfy.sh/…")
    expect(page.locator("#sl-notify-stored")).not_to_contain_text("my-secret-topic")


def test_saved_state_is_in_view_where_the_change_was_made(toolkit_server, browser_page, expect):
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{toolkit_server}/symlink?tab=settings")
    opt_in = page.locator('input[name="scheduled_deletions"][type="checkbox"]')
    opt_in.scroll_into_view_if_needed()
    with page.expect_response(re.compile(r"/symlink/settings$")):
        opt_in.check()
    note = page.locator("#err-scheduled_deletions")
    expect(note).to_have_text("Saved ✓")
    expect(note).to_be_in_viewport()
    expect(page.locator("#sl-save-state")).to_have_text("Saved ✓")
    mappings = page.locator('textarea[name="path_mappings"]')
    mappings.scroll_into_view_if_needed()
    change(page, mappings, "/srv/tv = /tv")
    expect(page.locator("#err-path_mappings")).to_have_text("Saved ✓")
    expect(note).to_have_text("")  # only the field just changed says so


def test_phone_tables_keep_their_column_names(toolkit_server, browser_page, media_env, expect):
    page = browser_page
    scan(page, toolkit_server, expect)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{toolkit_server}/symlink")
    cell = page.locator(".sl-history tbody tr").first.locator("td").nth(1)
    expect(cell).to_have_attribute("data-label", "Mode")
    # the buttons that are links keep their own colours (white on blue, not blue on blue)
    new_scan = page.get_by_role("link", name="+ New scan")
    colours = new_scan.evaluate("a => [getComputedStyle(a).color, getComputedStyle(a).backgroundColor]")
    assert colours[0] == "rgb(255, 255, 255)" and colours[0] != colours[1], colours
    before = cell.evaluate("td => getComputedStyle(td, '::before').content")
    assert "Mode" in before or "attr(data-label)" in before, before
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_wrong_url_favicon_and_new_scan_without_media_path(toolkit_server, browser_page, expect):
    page = browser_page
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(f"{toolkit_server}/symlink")
    button = page.locator(".sl-new-scan")
    expect(button).to_be_disabled()
    expect(page.locator("#sl-new-scan-why")).to_have_text("Set the media path first.")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(f"{toolkit_server}{icon}").status == 200
    page.wait_for_load_state("networkidle")
    assert missing == [], missing

    response = page.goto(f"{toolkit_server}/no/such/page")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    expect(page.locator("main")).to_contain_text("There is no page at /no/such/page.")
    expect(page.locator(".tk-header")).to_contain_text("Symlink")  # the toolkit's menu is there
    expect(page.get_by_role("link", name="Back to the toolkit")).to_be_visible()
