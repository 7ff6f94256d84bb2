"""Mounted in Redriva, the toolkit's routes need credentials as when it runs alone; Redriva's
own pages are left as they are."""
from __future__ import annotations

import httpx

from toolkit.testing import AUTH_HEADERS, TEST_PASSWORD, TEST_USER


def test_toolkit_routes_need_credentials_and_redrivas_pages_do_not(mounted):
    assert httpx.get(mounted + "/torrents").status_code == 200  # Redriva, unchanged
    page = httpx.get(mounted + "/symlink")
    assert page.status_code == 302 and page.headers["location"] == "/toolkit/login?next=/symlink"
    assert httpx.get(mounted + "/api/symlink/config").status_code == 401
    assert httpx.get(mounted + "/report").status_code == 302  # another plugin's page too
    with httpx.Client(base_url=mounted) as browser:
        login = browser.post("/toolkit/login?next=/symlink",
                             data={"username": TEST_USER, "password": TEST_PASSWORD})
        assert login.status_code == 303 and login.headers["location"] == "/symlink"
        assert "Symlink manager" in browser.get("/symlink").text
        assert browser.get("/torrents").status_code == 200


def test_rebinding_is_refused_on_the_toolkits_routes(mounted):
    evil = {"Host": "evil.example"}
    assert httpx.get(mounted + "/symlink", headers=evil).status_code == 400
    assert httpx.get(mounted + "/torrents", headers=evil).status_code == 200  # Redriva's own


def test_the_account_link_is_on_the_toolkits_page_inside_redrivas_layout(mounted):
    html = httpx.get(mounted + "/symlink", headers=AUTH_HEADERS).text
    assert '<a class="tk-account" href="/toolkit/account"' in html
