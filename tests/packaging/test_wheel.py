"""The wheel is the product: build it, install it (not editable) in a fresh virtual
environment, and use it as a user would — ``db upgrade``, ``serve`` → health → ``/symlink``,
a dry-run scan from the command line. Nothing here runs from the source tree: every command
starts in a folder outside the repository with the fresh environment's own binaries.

Installing the wheel's dependencies uses the package index (pip's cache makes it quick after
``./scripts/test`` has set up ``.venv``)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from toolkit import __version__
from toolkit.testing import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh venv where the built wheel is installed."""
    root = tmp_path_factory.mktemp("wheel")
    # from a copy of the sources: setuptools' build/ folder in the tree could hold stale files
    source = root / "source"
    shutil.copytree(REPO / "toolkit", source / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source)
    pip = ["-m", "pip", "--disable-pip-version-check", "-q"]
    # --no-build-isolation: the build backend of .venv (test extras), no download to build
    subprocess.run([sys.executable, *pip, "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(root / "dist"), str(source)], check=True, cwd=root)
    (wheel,) = (root / "dist").glob("redriva_toolkit-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    bin_dir = root / "venv" / "bin"
    subprocess.run([str(bin_dir / "python"), *pip, "install", str(wheel)], check=True, cwd=root)
    return bin_dir


def run(bin_dir: Path, *args: str, data: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "redriva-toolkit"), *args], cwd=data.parent,
                          env=_environment(data), capture_output=True, text=True, timeout=120,
                          **kwargs)


def _environment(data: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("TOOLKIT_", "PYTHON", "VIRTUAL_ENV"))}
    return {**environment, "TOOLKIT_DATA_DIR": str(data), "COLUMNS": "200"}


def test_the_package_comes_from_the_wheel_not_the_tree(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c", "import toolkit; print(toolkit.__file__)"],
                           cwd=tmp_path, env=_environment(tmp_path), capture_output=True, text=True,
                           check=True).stdout.strip()
    assert where.startswith(str(installed.parent)) and "site-packages" in where


def test_version_from_the_script_and_python_m(installed, tmp_path):
    script = run(installed, "--version", data=tmp_path / "data", check=True).stdout
    module = subprocess.run([str(installed / "python"), "-m", "toolkit", "--version"], cwd=tmp_path,
                            env=_environment(tmp_path), capture_output=True, text=True, check=True).stdout
    assert script == module == f"redriva-toolkit, version {__version__}\n"


def test_db_upgrade_runs_the_core_and_plugin_migrations(installed, tmp_path):
    result = run(installed, "db", "upgrade", data=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    heads = result.stdout.strip().removeprefix("database at ").split(", ")
    assert "0001_core" in heads and any(h.startswith("symlink_") for h in heads), result.stdout
    assert (tmp_path / "data" / "toolkit.db").is_file()


def test_serve_health_and_the_symlink_page(installed, tmp_path):
    port = free_port()
    server = subprocess.Popen([str(installed / "redriva-toolkit"), "serve", "--port", str(port)],
                              cwd=tmp_path, env=_environment(tmp_path / "data"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = None
        for _ in range(400):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/toolkit/health")
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[0]
                time.sleep(0.05)
        assert health is not None and health.json()["status"] == "ok"
        page = httpx.get(f"http://127.0.0.1:{port}/symlink")
        assert page.status_code == 200
        # the plugin's templates and static files are in the wheel
        (stylesheet,) = re.findall(r'href="([^"]*/symlink\.css)"', page.text)
        assert httpx.get(f"http://127.0.0.1:{port}{stylesheet}").status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output


def test_a_dry_run_scan_from_the_command_line(installed, tmp_path):
    store, library = tmp_path / "store", tmp_path / "library"
    store.mkdir()
    library.mkdir()
    (store / "ok.mkv").write_bytes(b"\x1a" * 4096)
    (library / "ok.mkv").symlink_to(store / "ok.mkv")
    (library / "broken.mkv").symlink_to(store / "gone.mkv")
    report = tmp_path / "report.json"
    result = run(installed, "symlink", "scan", str(library), "--mode", "dry-run", "--json", str(report),
                 data=tmp_path / "data")
    assert result.returncode == 2, result.stdout + result.stderr  # problems found, none deleted
    problems = json.loads(report.read_text())["problems_found"]
    assert [(Path(p["path"]).name, p["status"]) for p in problems] == [("broken.mkv", "BROKEN")]
    assert (library / "broken.mkv").is_symlink()


def test_the_pytest_plugin_without_and_with_the_test_extras(installed, tmp_path):
    """Installed beside another project's pytest, the toolkit's ``pytest11`` plugin does not
    break it; with pytest-asyncio (the ``[test]`` extras) its fixtures are there."""
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    (tmp_path / "test_fixture.py").write_text(
        "def test_fixture(toolkit_config):\n    assert toolkit_config.data_dir.is_dir()\n")
    pip = [str(installed / "python"), "-m", "pip", "--disable-pip-version-check", "-q", "install"]

    def pytest(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(installed / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *args], cwd=tmp_path, env=_environment(tmp_path / "data"),
                              capture_output=True, text=True, timeout=120)

    subprocess.run([*pip, "pytest"], check=True, cwd=tmp_path)
    plain = pytest("test_plain.py")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    subprocess.run([*pip, "pytest-asyncio"], check=True, cwd=tmp_path)
    with_fixtures = pytest("test_fixture.py")
    assert with_fixtures.returncode == 0, with_fixtures.stdout + with_fixtures.stderr


def test_a_full_scan_probes_with_the_wheels_pyav_workers(installed, tmp_path):
    """Depth full runs the PyAV probe workers (a program file of the package, forked from
    the first after its import): they must ship in the wheel and work from it."""
    store, library = tmp_path / "store", tmp_path / "library"
    store.mkdir()
    library.mkdir()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                    "-t", "2", "-c:v", "mpeg4", str(store / "ok.mkv")], check=True, timeout=60)
    (store / "zeroed.mkv").write_bytes(b"\0" * 4096 + (store / "ok.mkv").read_bytes()[4096:])
    for name in ("ok.mkv", "zeroed.mkv"):
        (library / name).symlink_to(store / name)
    report = tmp_path / "report.json"
    result = run(installed, "symlink", "scan", str(library), "--depth", "full", "--prober", "av",
                 "--json", str(report), data=tmp_path / "data")
    assert result.returncode == 2, result.stdout + result.stderr
    document = json.loads(report.read_text())
    assert [(Path(p["path"]).name, p["status"]) for p in document["problems_found"]] == [("zeroed.mkv", "CORRUPTED")]
    assert document["problems_found"][0]["reason"].startswith("libav: ")
    assert document["statistics"]["phase2_analyzed"] == 2
