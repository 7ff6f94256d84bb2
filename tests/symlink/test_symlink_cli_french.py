"""``redriva-toolkit symlink scan`` in French when the locale (or TOOLKIT_LANGUAGE) says so, as a
person runs it: a fresh process, its summary and its guard's reason in French, the JSON report
in English (its keys and reasons are a contract scripts read)."""
from __future__ import annotations

import json
import os
import subprocess
import sys


def scan(tree, tmp_path, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "TOOLKIT_LANGUAGE")}
    env.update(COLUMNS="400", TOOLKIT_DATA_DIR=str(tmp_path / "data"), **environment)
    return subprocess.run([sys.executable, "-m", "toolkit", "symlink", "scan", str(tree.library), *arguments],
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_french_locale_gets_french_words_and_an_english_report(tree, tmp_path):
    tree.link("ok.mkv", tree.file("ok.mkv"))
    tree.link("broken.mkv", tree.targets / "gone.mkv")
    tree.link("small.mkv", tree.file("small.mkv", 12))
    report = tmp_path / "report.json"
    run = scan(tree, tmp_path, "--mode", "real", "--max-delete", "1", "--json", str(report), LANG="fr_FR.UTF-8")
    assert run.returncode == 4, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "Analyse des liens" in output and "analysés" in output
    assert "Rien n’a été supprimé : garde-fou de suppression en masse : 2 suppressions dépassent la limite de 1 " \
           "(--force pour passer outre)" in output
    assert "Arrêtée par un garde-fou :" in output
    reasons = {os.path.basename(p["path"]): p["reason"] for p in json.loads(report.read_text())["problems_found"]}
    assert reasons == {"broken.mkv": "target missing: No such file or directory (errno 2)",
                       "small.mkv": "12 bytes (< 1024)"}

    english = scan(tree, tmp_path, "--mode", "real", "--max-delete", "1", LANG="fr_FR.UTF-8", TOOLKIT_LANGUAGE="en")
    assert "Nothing deleted: mass-deletion guard: 2 deletions exceed the limit of 1 (use --force to override)" \
        in english.stdout + english.stderr
