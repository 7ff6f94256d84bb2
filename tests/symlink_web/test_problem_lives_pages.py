"""The Dashboard's problems across scans and its trend chart, read in the HTML a person
sees (issue 16 items 3-4): states and counts, "seen N times since", and the SVG chart's
numbers, dates and resolution rate after real scans of a real library."""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from .test_problem_lives import heal, scan

SVG = "{http://www.w3.org/2000/svg}"


async def dashboard(client) -> str:
    response = await client.get("/symlink?tab=dashboard", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return await response.get_data(as_text=True)


def chart(html: str) -> ET.Element:
    return ET.fromstring(re.search(r"<svg class=\"sl-trend-chart\".*?</svg>", html, re.S).group(0))


def text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


async def test_the_chart_draws_found_fixed_and_the_resolution_rate_per_scan(toolkit_client, media_env):
    library = media_env
    total = len(library.problems)
    assert "The chart appears after the first completed scan." in await dashboard(toolkit_client)
    await scan(toolkit_client, library=library)
    healed, removed, *_ = library.broken
    heal(healed)
    os.unlink(removed)
    await scan(toolkit_client, library=library)
    os.unlink(os.readlink(healed))  # it breaks again: coming back
    await scan(toolkit_client, library=library)

    html = await dashboard(toolkit_client)
    svg = chart(html)
    assert text(svg.find(f"{SVG}title")) == "Problems found and fixed per scan, and the resolution rate"
    groups = svg.findall(f"{SVG}g[@class='sl-trend-scan']")
    values = [(g.find(f"{SVG}text[@class='sl-value sl-value-found']").text,
               g.find(f"{SVG}text[@class='sl-value sl-value-fixed']").text) for g in groups]
    assert values == [(str(total), "0"), (str(total - 2), "2"), (str(total - 1), "0")]
    tips = [re.sub(r"^\S+ \S+ UTC: ", "", g.find(f"{SVG}title").text) for g in groups]
    assert tips == [f"{total} found, 0 fixed · resolution rate 0 %",
                    f"{total - 2} found, 2 fixed · resolution rate {round(200 / total)} %",
                    f"{total - 1} found, 0 fixed · resolution rate {round(100 / total)} %"]
    # bar heights follow the numbers (the tallest bar is the largest count)
    heights = [float(g.find(f"{SVG}rect[@class='sl-bar-found']").get("height")) for g in groups]
    assert abs(heights[1] / heights[0] - (total - 2) / total) < 0.01
    axis = [t.text for t in svg.findall(f"{SVG}text[@class='sl-axis sl-axis-count']")]
    assert axis[0] == "0" and int(axis[-1]) >= total
    assert [t.text for t in svg.findall(f"{SVG}text[@class='sl-axis sl-axis-rate']")] == ["0 %", "50 %", "100 %"]
    dates = [t.text for t in svg.findall(f".//{SVG}text[@class='sl-axis sl-axis-date']")]
    assert dates == [g.get("data-date")[11:] for g in groups]  # same day: the times (HH:MM)
    assert len(svg.findall(f"{SVG}circle[@class='sl-rate-point']")) == 3
    summary = re.search(r'<p class="sl-trend-summary">(.*?)</p>', html, re.S).group(1)
    assert " ".join(re.sub(r"<[^>]+>", "", summary).split()) == \
        f"Resolution rate: {round(100 / total)} % (fixed: 1 of {total} problems found)"


async def test_the_dashboard_counts_problems_per_state_and_tells_their_story(toolkit_client, media_env):
    library = media_env
    await scan(toolkit_client, library=library)
    await scan(toolkit_client, library=library)
    healed = library.broken[0]
    heal(healed)
    await scan(toolkit_client, library=library)
    html = await dashboard(toolkit_client)
    counts = dict(re.findall(r'data-state="(\w+)".*?<span class="sl-life-state[^"]*">[^<]*</span> <strong>(\d+)</strong>',
                             html, re.S))
    open_count = len(library.problems) - 1
    assert counts == {"open": str(open_count), "new": "0", "seen": str(open_count), "back": "0", "ignored": "0",
                      "retargeted": "0", "deleted": "0", "researched": "0", "fixed": "1"}
    stories = re.findall(r'<small class="sl-muted sl-life-story">([^<]*)</small>', html)
    assert len(stories) == open_count and set(stories) == {f"seen 3 times since {stories[0][-10:]}"}
    fixed = await (await toolkit_client.get("/symlink/lives?state=fixed", headers={"HX-Request": "true"})).get_data(as_text=True)
    assert re.findall(r'<small class="sl-muted sl-life-story">([^<]*)</small>', fixed) == [
        f"seen 2 times since {stories[0][-10:]} · fixed on {stories[0][-10:]} (replaced and healthy)"]
    assert (await toolkit_client.get("/symlink/lives?state=bogus&page=x", headers={"HX-Request": "true"})).status_code == 200


async def test_a_scan_with_a_mount_down_is_marked_on_the_chart(toolkit_client, toolkit_config, media_env):
    import sqlite3

    await scan(toolkit_client, library=media_env)
    await scan(toolkit_client, library=media_env)
    with sqlite3.connect(toolkit_config.data_dir / "toolkit.db") as db:  # as a scan during an outage records it
        db.execute("UPDATE symlink_scan_trends SET mount_health = 'down' WHERE scan_date = "
                   "(SELECT max(scan_date) FROM symlink_scan_trends)")
    groups = chart(await dashboard(toolkit_client)).findall(f"{SVG}g[@class='sl-trend-scan']")
    assert [g.find(f"{SVG}text[@class='sl-mount-mark']") is not None for g in groups] == [False, True]
    assert groups[1].find(f"{SVG}title").text.endswith(" · ⚠ a mount was down")
    assert "⚠" not in groups[0].find(f"{SVG}title").text
