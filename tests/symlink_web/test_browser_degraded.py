"""A scan on a slow mount, read on the page in real Chromium, in English and French: the links
live in a real rclone FUSE mount of a WebDAV server answering every request in 0.4 s, so the
scan finishes (slow is not down) and the page says the mount was degraded, with its measured
latency."""
from __future__ import annotations

import os
import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.fuse]

WORDS = {
    "en": ("en-US,en;q=0.9", r"Mount {mount} was slow \(degraded\): median (\d+(?:\.\d+)?) ms, "
                             r"p95 (\d+(?:\.\d+)?) ms, 0 failed, \d+ late\."),
    "fr": ("fr-FR,fr;q=0.9", r"Le montage {mount} était lent \(dégradé\) : médiane (\d+(?:\.\d+)?) ms, "
                             r"p95 (\d+(?:\.\d+)?) ms, 0 en échec, \d+ en retard\."),
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_slow_mount_reads_degraded_with_its_latency(toolkit_server, browser_page, rclone_mount, tmp_path,
                                                      monkeypatch, language):
    from playwright.sync_api import expect
    media = tmp_path / "media" / "Movies"
    media.mkdir(parents=True)
    for name in ("Movie A.mkv", "Movie B.mkv", "Movie C.mkv"):
        (rclone_mount.remote_root / name).write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 4092)
        os.symlink(rclone_mount.mount_point / name, media / name)
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(media.parent))
    rclone_mount.server.faults.latency = 0.4  # every WebDAV request: slow, well within the deadlines

    accept, sentence = WORDS[language]
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": accept})
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    page.locator(".sl-root .sl-dir").check()
    page.locator("#sl-start").click()
    expect(page.locator('.sl-scan[data-status="completed"]')).to_be_visible(timeout=90_000)

    degraded = page.locator(".sl-degraded")
    expect(degraded).to_have_count(1)
    pattern = re.compile(sentence.format(mount=re.escape(str(rclone_mount.mount_point))))
    expect(degraded).to_have_text(pattern)
    median, p95 = map(float, pattern.fullmatch(degraded.inner_text()).groups())
    assert 250 <= median <= p95  # what made it degraded: a median past 0.25 s
    expect(page.locator("#sl-total")).to_have_text("3")
    # slow, yet every link was checked and found fine (none UNKNOWN)
    expect(page.locator('.sl-stats div:has(dt:text-is("OK")) dd')).to_have_text("3")
