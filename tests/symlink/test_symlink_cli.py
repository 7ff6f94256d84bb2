"""``symlink scan|journal|restore``: exit codes, the JSON report, confirmation, guard."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit.plugins.symlink.cli import symlink_cli

ORIGINAL_REPORT_KEYS = ["scan_date", "mode", "statistics", "problems_found", "deleted_files"]


def run(*arguments: str, input: str | None = None):
    # wide lines: rich wraps at the terminal width
    return CliRunner(env={"COLUMNS": "400"}).invoke(symlink_cli, list(arguments), input=input, catch_exceptions=False)


@pytest.fixture
def messy(tree):
    tree.link("ok.mkv", tree.file("ok.mkv"))
    tree.link("broken.mkv", tree.targets / "gone.mkv")
    tree.link("small.mkv", tree.file("small.mkv", 12))
    return tree


def test_clean_library_exits_0(tree, database_url):
    tree.link("ok.mkv", tree.file("ok.mkv"))
    result = run("scan", str(tree.library))
    assert result.exit_code == 0, result.output
    assert "analyzed" in result.output


def test_dry_run_reports_problems_exits_2_and_keeps_links(messy, database_url, tmp_path):
    report_path = tmp_path / "report.json"
    result = run("scan", str(messy.library), "--json", str(report_path))
    assert result.exit_code == 2, result.output
    report = json.loads(report_path.read_text())
    assert list(report)[:5] == ORIGINAL_REPORT_KEYS
    assert report["mode"] == "dry-run"
    assert report["statistics"]["phase1_broken"] == 1 and report["statistics"]["phase1_small"] == 1
    assert {Path(p["path"]).name: p["status"] for p in report["problems_found"]} == {
        "broken.mkv": "BROKEN", "small.mkv": "SMALL_FILE"}
    assert set(report["problems_found"][0]) >= {"path", "target", "status", "phase", "size", "reason"}
    assert report["deleted_files"] == []
    assert os.path.islink(messy.library / "broken.mkv")


def test_real_mode_with_yes_deletes_exits_3_and_restore_brings_them_back(messy, database_url, tmp_path):
    report_path = tmp_path / "report.json"
    result = run("scan", str(messy.library), "--mode", "real", "--yes", "--json", str(report_path))
    assert result.exit_code == 3, result.output
    report = json.loads(report_path.read_text())
    assert report["statistics"]["files_deleted"] == 2
    assert sorted(Path(d["path"]).name for d in report["deleted_files"]) == ["broken.mkv", "small.mkv"]
    assert not os.path.lexists(messy.library / "broken.mkv") and os.path.islink(messy.library / "ok.mkv")

    journal = run("journal", "--json")
    entries = [json.loads(line) for line in journal.output.splitlines()]
    assert {(Path(e["path"]).name, e["state"], e["scan_id"]) for e in entries} == {
        ("broken.mkv", "deleted", report["scan_id"]), ("small.mkv", "deleted", report["scan_id"])}

    restored = run("restore", "--scan", report["scan_id"])
    assert restored.exit_code == 0, restored.output
    assert "2 restored" in restored.output
    assert os.readlink(messy.library / "broken.mkv") == str(messy.targets / "gone.mkv")


def test_declining_the_prompt_turns_the_run_into_a_dry_run(messy, database_url):
    result = run("scan", str(messy.library), "--mode", "real", input="n\n")
    assert result.exit_code == 2, result.output
    assert "1 BROKEN, 1 SMALL_FILE" in result.output
    assert os.path.islink(messy.library / "broken.mkv") and os.path.islink(messy.library / "small.mkv")


def test_accepting_the_prompt_deletes(messy, database_url):
    result = run("scan", str(messy.library), "--mode", "real", input="y\n")
    assert result.exit_code == 3, result.output
    assert not os.path.lexists(messy.library / "broken.mkv")


def test_mass_deletion_guard_stops_real_mode_with_4_unless_forced(tree, database_url):
    tree.link("ok.mkv", tree.file("ok.mkv"))
    for index in range(30):
        tree.link(f"gone{index}.mkv", tree.targets / f"missing{index}.mkv")

    stopped = run("scan", str(tree.library), "--mode", "real", "--yes")
    dry = run("scan", str(tree.library))
    forced = run("scan", str(tree.library), "--mode", "real", "--yes", "--force")

    assert stopped.exit_code == 4 and "mass-deletion guard" in stopped.output
    assert dry.exit_code == 2 and "a real run would stop here" in dry.output
    assert forced.exit_code == 3
    assert sorted(os.listdir(tree.library)) == ["ok.mkv"]


def test_a_mount_that_is_down_stops_real_mode_with_4_and_deletes_nothing(tree, database_url):
    tree.link("gone.mkv", tree.targets / "gone.mkv")
    result = run("scan", str(tree.library), "--mode", "real", "--yes", "--expected-mount", str(tree.targets))
    assert result.exit_code == 4, result.output
    assert "was down" in result.output and "expected mount point is not mounted" in result.output
    assert os.path.islink(tree.library / "gone.mkv")


def test_full_depth_without_ffprobe_fails_clearly_when_it_needs_ffprobe(messy, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    # the parity mode runs it; real mode re-checks a CORRUPTED link with it before deleting
    for extra in (["--prober", "ffprobe"], ["--mode", "real", "--yes"]):
        result = CliRunner().invoke(symlink_cli, ["scan", str(messy.library), "--depth", "full", *extra])
        assert result.exit_code == 1, (extra, result.output)
        assert "ffprobe not found" in result.output
    # the PyAV prober (the default) does without it in a dry run
    result = CliRunner().invoke(symlink_cli, ["scan", str(messy.library), "--depth", "full", "--prober", "av"])
    assert result.exit_code == 2 and "ffprobe not found" not in result.output, result.output


def test_restore_without_a_selection_is_a_usage_error(database_url):
    result = CliRunner().invoke(symlink_cli, ["restore"])
    assert result.exit_code == 2 and "choose what to restore" in result.output


def test_through_the_installed_console_script(messy, tmp_path):
    """The real ``redriva-toolkit`` binary: the plugin registers its commands."""
    binary = Path(sys.executable).with_name("redriva-toolkit")
    environment = {**os.environ, "TOOLKIT_DATA_DIR": str(tmp_path / "data")}
    report_path = tmp_path / "r.json"
    completed = subprocess.run(
        [str(binary), "symlink", "scan", str(messy.library), "--mode", "real", "--yes", "--json", str(report_path)],
        capture_output=True, text=True, env=environment, timeout=120,
    )
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert json.loads(report_path.read_text())["statistics"]["files_deleted"] == 2


def test_full_depth_reports_corrupted_and_caches_verdicts(tree, media, database_url, tmp_path):
    tree.link("ok.mkv", media["ok.mkv"])
    tree.link("zerohead.mkv", media["zerohead.mkv"])
    first_report, second_report = tmp_path / "first.json", tmp_path / "second.json"

    first = run("scan", str(tree.library), "--depth", "full", "--json", str(first_report))
    second = run("scan", str(tree.library), "--depth", "full", "--json", str(second_report))

    assert first.exit_code == 2 and "original estimate ~1 min" in first.output
    report = json.loads(first_report.read_text())
    assert [(Path(p["path"]).name, p["status"], p["phase"]) for p in report["problems_found"]] == [
        ("zerohead.mkv", "CORRUPTED", 2)]
    assert report["statistics"]["phase2_analyzed"] == 2 and report["statistics"]["phase2_corrupted"] == 1
    again = json.loads(second_report.read_text())["statistics"]
    assert second.exit_code == 2
    assert (again["skipped_cached"], again["phase2_probed"], again["phase2_corrupted"]) == (2, 0, 1)
