"""Playwright is a declared test dependency (the ``test`` extra): without it the browser
tests fail, they are never skipped. Only a missing Chromium (a system package, like rclone or
ffmpeg for their tests) skips them, as ``toolkit.testing.browser_page`` decides."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.testing import chromium_path

ROOT = Path(__file__).resolve().parents[2]

# runs pytest with the playwright package unimportable (as in an install that lost it)
WITHOUT_PLAYWRIGHT = """
import sys
sys.modules["playwright"] = sys.modules["playwright.sync_api"] = None
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_no_browser_test_skips_when_playwright_is_missing():
    skipping = [str(path.relative_to(ROOT)) for path in [*ROOT.glob("tests/**/*.py"), ROOT / "toolkit/testing.py"]
                if re.search(r"importorskip\(\s*[\"']playwright", path.read_text())]
    assert skipping == []


@pytest.mark.browser
def test_the_browser_page_fails_without_playwright(tmp_path):
    if not chromium_path():
        pytest.skip("Chromium not installed (apt-get install chromium): browser_page skips before")
    (tmp_path / "test_page.py").write_text("def test_page(browser_page):\n    pass\n")
    run = subprocess.run([sys.executable, "-c", WITHOUT_PLAYWRIGHT, "-q", "-p", "no:cacheprovider", "-rs",
                          str(tmp_path / "test_page.py")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1 and "1 error" in run.stdout and "skipped" not in run.stdout, run.stdout
    assert "Playwright is not installed" in run.stdout
