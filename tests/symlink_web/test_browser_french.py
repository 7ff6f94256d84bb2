"""A French user (the browser asks for French) walks the page in real headless Chromium: every
tab, the scan, the deletion dialog and the messages read in French.

Screenshots (desktop and phone, ``-fr``) go to ``$TOOLKIT_SCREENSHOT_DIR`` when set
(tests/screenshots.py)."""
from __future__ import annotations

import re

import pytest
from screenshots import shoot, shoot_part

pytestmark = pytest.mark.browser




def test_a_french_browser_gets_the_page_in_french(toolkit_server, browser_page, media_env):
    from playwright.sync_api import expect
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    page.goto(f"{toolkit_server}/symlink?tab=scanner")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_text(["Tableau de bord", "Analyse", "Planifications", "Paramètres"])
    expect(page.locator("#sl-estimate")).to_have_text("Choisissez des dossiers pour voir une estimation.")
    total = len(media_env.healthy + media_env.problems + media_env.sidecars)
    expect(page.locator(".sl-root .sl-count")).to_have_text(f"{total} liens", timeout=15_000)
    page.get_by_role("button", name="Lancer l’analyse").click()  # nothing ticked yet
    expect(page.locator("#scan-area .sl-error")).to_contain_text("choisissez au moins un dossier")
    page.locator(".sl-root .sl-dir").check()
    expect(page.locator("#sl-estimate")).to_contain_text(f"1 dossier(s), {total} liens")
    page.locator('input[name="mode"][value="real"]').check()
    page.get_by_role("button", name="Lancer l’analyse").click()
    expect(page.locator('.sl-scan[data-status="completed"]')).to_be_visible(timeout=30_000)
    expect(page.locator("#sl-scan-status")).to_have_text("terminée")
    expect(page.locator(".sl-stats")).to_contain_text("Liens vérifiés")
    expect(page.locator("#sl-results h3")).to_contain_text("Problèmes")
    expect(page.locator("#sl-picked-count")).to_have_text("Cochez des liens pour n’en supprimer que certains.")
    shoot(page, "symlink-scanner")

    problems = len(media_env.problems)
    page.get_by_role("button", name=f"Vérifier et supprimer {problems} liens…").click()
    dialog = page.locator("#sl-dialog")
    expect(dialog.locator("h2")).to_have_text(f"Supprimer {problems} liens symboliques ?")
    expect(dialog).to_contain_text("Seuls les liens sont retirés, jamais les fichiers")
    expect(dialog.locator("thead")).to_have_text(re.compile(r"Lien\s*Type\s*Pourquoi"))
    for link in media_env.broken:  # the engine's reasons, in French
        expect(dialog.locator(f'tr[data-path="{link}"] td').nth(2)).to_have_text(
            "cible absente : Aucun fichier ou dossier de ce type (errno 2)")
    for link in media_env.small:
        expect(dialog.locator(f'tr[data-path="{link}"] td').nth(2)).to_have_text("100 octets (< 1024)")
    shoot(page, "symlink-confirm")
    page.locator("#sl-confirm-delete").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".sl-deletion-done strong").first).to_have_text(str(problems), timeout=30_000)
    expect(page.locator(".sl-deletion-done")).to_contain_text("Suppression terminée")
    expect(page.locator(".sl-problems .sl-outcome").first).to_contain_text("supprimé")
    shoot(page, "symlink-deleted", phone=False)

    page.get_by_role("tab", name="Tableau de bord").click()
    expect(page.locator(".sl-history tbody tr")).to_have_count(1)
    expect(page.locator(".sl-history tbody tr").first).to_contain_text("réel")
    expect(page.locator(".sl-history tbody tr").first).to_contain_text(f"{total} liens")
    shoot(page, "symlink-dashboard")

    page.goto(f"{toolkit_server}/symlink?tab=settings")
    workers = page.locator('input[name="max_workers"]')
    workers.fill("0")
    with page.expect_response(re.compile(r"/symlink/settings$")):
        workers.dispatch_event("change")
    expect(page.locator("#err-max_workers")).to_have_text("doit valoir au moins 1")
    expect(page.locator("#sl-save-state")).to_contain_text("Non enregistré")
    workers.fill("5")
    with page.expect_response(re.compile(r"/symlink/settings$")):
        workers.dispatch_event("change")
    expect(page.locator("#sl-save-state")).to_have_text("Enregistré ✓")
    expect(page.locator("#err-max_workers")).to_have_text("Enregistré ✓")
    page.get_by_role("button", name="Tester la connexion").first.click()
    expect(page.locator("#sl-test-result-sonarr")).to_have_text(
        "✗ Sonarr n’est pas configuré : activez-le et donnez son hôte et sa clé API")
    page.get_by_role("button", name="Envoyer un test").click()
    expect(page.locator("#sl-notify-test-result")).to_have_text("✗ aucune URL de notification n’est configurée")
    shoot(page, "symlink-settings")
    shoot_part(page.locator("#sl-notifications"), "symlink-notifications")

    page.goto(f"{toolkit_server}/symlink?tab=schedules")
    expect(page.locator("#sl-schedule-form")).to_contain_text(
        "Le mode réel demande d’activer « Suppressions planifiées » dans Paramètres.")
    page.get_by_role("button", name="Enregistrer la planification").click()
    expect(page.locator(".sl-flash")).to_contain_text(
        "Planification « nightly » enregistrée : chaque jour à 03:00, prochaine exécution")
    row = page.locator('tr[data-schedule="nightly"]')
    expect(row).to_contain_text("simulation · basique")
    expect(row.get_by_role("switch")).to_have_text("Actif")
    shoot_part(page.locator("#symlink-panel"), "symlink-schedules")

    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{toolkit_server}/symlink")
    cell = page.locator(".sl-history tbody tr").first.locator("td").nth(1)
    expect(cell).to_have_attribute("data-label", "Mode")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    missing = page.goto(f"{toolkit_server}/nulle/part")
    assert missing.status == 404
    expect(page.locator("h1")).to_have_text("Page introuvable")


def test_choosing_french_on_the_account_page(toolkit_server, browser_page, media_env):
    """An English browser; the person picks Français: every page reads French from then on,
    whatever the browser asks, until they pick Automatic again."""
    from playwright.sync_api import expect
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": "en-US,en;q=0.9"})
    page.goto(f"{toolkit_server}/toolkit/account")
    expect(page.locator("h1")).to_have_text("Account and access")
    page.get_by_label("Language of the pages, messages and notifications").select_option(label="Français")
    page.get_by_role("button", name="Save the language").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text("Compte et accès")
    expect(page.get_by_label("Langue des pages, des messages et des notifications")).to_have_value("fr")
    page.goto(f"{toolkit_server}/symlink")
    expect(page.get_by_role("tab")).to_have_text(["Tableau de bord", "Analyse", "Planifications", "Paramètres"])
    page.goto(f"{toolkit_server}/toolkit/account")
    page.get_by_label("Langue des pages, des messages et des notifications").select_option("auto")
    page.get_by_role("button", name="Enregistrer la langue").click()
    expect(page.locator("h1")).to_have_text("Account and access")
