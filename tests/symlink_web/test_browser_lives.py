"""Problems across scans and the trend chart as a person reads them, in real headless
Chromium against the served app (issue 16 items 3-4): each problem's state and story on the
Scanner, "Re-check now" and "Mark fixed" in place, then the Dashboard's counts and chart."""
from __future__ import annotations

import datetime

import pytest

from screenshots import PHONE, shoot_part

from .test_browser_reading import scan
from .test_problem_lives import heal

pytestmark = pytest.mark.browser


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    return expect


def test_states_recheck_mark_fixed_and_the_chart(toolkit_server, browser_page, media_env, expect):
    page, library = browser_page, media_env
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    scan(page, toolkit_server, expect)
    rows = page.locator("#sl-results tr[data-path]")
    expect(rows).to_have_count(len(library.problems))
    expect(page.locator("#sl-results .sl-life-summary")).to_have_text(f"new {len(library.problems)}")
    for link in library.problems:
        life = page.locator(f'#sl-results tr[data-path="{link}"] .sl-life')
        expect(life.locator(".sl-life-state")).to_have_text("new")
        expect(life.locator(".sl-life-story")).to_have_text(f"seen once, on {today}")

    healed, by_hand, *_ = library.broken
    heal(healed)
    life = page.locator(f'#sl-results tr[data-path="{healed}"] .sl-life')
    button = life.get_by_role("button", name=f"Re-check {healed} now")
    expect(button).to_have_text("Re-check now")
    button.click()
    expect(life.locator(".sl-life-state")).to_have_text("fixed")
    expect(life.locator(".sl-life-check")).to_have_text("Re-check: the link is fine")
    expect(life.locator(".sl-life-story")).to_have_text(f"seen once, on {today} · fixed on {today} (fine on re-check)")
    expect(life.locator(".sl-mark-fixed")).to_have_count(0)

    life = page.locator(f'#sl-results tr[data-path="{by_hand}"] .sl-life')
    life.get_by_role("button", name=f"Mark {by_hand} fixed").click()
    expect(life.locator(".sl-life-state")).to_have_text("fixed")
    expect(life.locator(".sl-life-story")).to_contain_text("(marked fixed by hand)")

    scan(page, toolkit_server, expect)  # the hand fix did not hold; the others are seen again
    expect(page.locator(f'#sl-results tr[data-path="{by_hand}"] .sl-life-state')).to_have_text("coming back")
    expect(page.locator(f'#sl-results tr[data-path="{by_hand}"] .sl-life-story')).to_have_text(
        f"seen 2 times since {today} · came back once")
    expect(page.locator(f'#sl-results tr[data-path="{healed}"]')).to_have_count(0)  # fine: not a problem now
    summary = page.locator("#sl-results .sl-life-summary [data-state]")
    expect(summary).to_have_text([f"seen again {len(library.problems) - 2}", "coming back 1"])
    others = [p for p in library.problems if p not in (healed, by_hand)]
    for link in others:
        expect(page.locator(f'#sl-results tr[data-path="{link}"] .sl-life-state')).to_have_text("seen again")
        expect(page.locator(f'#sl-results tr[data-path="{link}"] .sl-life-story')).to_have_text(
            f"seen 2 times since {today}")

    page.goto(f"{toolkit_server}/symlink?tab=dashboard")
    counts = page.locator("#sl-lives .sl-life-counts")
    expect(counts.locator('[data-state="open"]')).to_have_text(f"to treat {len(others) + 1}")
    expect(counts.locator('[data-state="seen"]')).to_have_text(f"seen again {len(others)}")
    expect(counts.locator('[data-state="back"]')).to_have_text("coming back 1")
    expect(counts.locator('[data-state="fixed"]')).to_have_text("fixed 1")
    # marked fixed from the Dashboard's list: the counts follow
    page.locator(f'#sl-lives tr[data-path="{by_hand}"]').get_by_role("button", name=f"Mark {by_hand} fixed").click()
    expect(counts.locator('[data-state="back"]')).to_have_text("coming back 0")
    expect(counts.locator('[data-state="fixed"]')).to_have_text("fixed 2")
    expect(page.locator(f'#sl-lives tr[data-path="{by_hand}"]')).to_have_count(0)
    counts.locator('[data-state="fixed"]').click()
    expect(page.locator("#sl-lives table tr[data-path]")).to_have_count(2)
    expect(page.locator(f'#sl-lives tr[data-path="{healed}"] .sl-life-state')).to_have_text("fixed")

    total = len(library.problems)
    trends = page.locator("#sl-trends")
    expect(trends.locator(".sl-trend-summary")).to_have_text(
        f"Resolution rate: {round(100 / total)} % (fixed: 1 of {total} problems found)")
    chart = trends.locator("svg.sl-trend-chart")
    expect(chart).to_be_visible()
    expect(chart.locator(".sl-value-found")).to_have_text([str(total), str(total - 1)])
    expect(chart.locator(".sl-value-fixed")).to_have_text(["0", "1"])  # the hand fix came back
    expect(trends.locator(".sl-legend")).to_contain_text("problems found")
    expect(trends.locator(".sl-legend")).to_contain_text("resolution rate")
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    shoot_part(page.locator("#sl-lives"), "symlink-problem-lives")
    shoot_part(trends, "symlink-trends")
    page.set_viewport_size(PHONE)  # on a phone: the chart shrinks, nothing scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert chart.bounding_box()["width"] < PHONE["width"]
