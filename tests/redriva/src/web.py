"""A small Flask app shaped like Redriva (kesurof/Redriva ``src/web.py``): one global ``app``,
a dashboard and a torrent list read from its own SQLite file ``data/redriva.db``, a form that
adds a torrent (POST, flash, redirect), Redriva-style JSON routes under ``/api/`` (some fail
the way Redriva's can: ``sys.exit`` inside a request) and its own static files. At the end, the documented one-call change that puts the toolkit's links in
its menu (``base.html`` holds the matching include)."""
from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from jinja2 import ChoiceLoader, FileSystemLoader

PROJECT = Path(__file__).resolve().parents[1]


def create_app(database: str | os.PathLike | None = None, templates: str = "templates") -> Flask:
    """``templates="templates_today"``: today's header structure (its base.html only)."""
    app = Flask(__name__)
    if templates != "templates":
        app.jinja_loader = ChoiceLoader([FileSystemLoader(PROJECT / "src" / templates),
                                         app.jinja_loader])
    app.secret_key = "redriva-test-secret"
    app.config["DATABASE"] = str(database or os.environ.get("REDRIVA_DB")
                                 or PROJECT / "data" / "redriva.db")
    # held by /api/sync until set: lets a test keep a Redriva request in flight
    app.config["SYNC_GATE"] = threading.Event()

    def connect() -> sqlite3.Connection:
        path = Path(app.config["DATABASE"])
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE IF NOT EXISTS torrents (id INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued')")
        return conn

    @app.get("/")
    def dashboard():
        with connect() as conn:
            counts = dict(conn.execute(
                "SELECT status, COUNT(*) FROM torrents GROUP BY status ORDER BY status"))
        return render_template("dashboard.html", counts=counts)

    @app.get("/torrents")
    def torrents():
        with connect() as conn:
            rows = conn.execute("SELECT id, name, status FROM torrents ORDER BY id").fetchall()
        return render_template("torrents.html", torrents=rows)

    @app.post("/torrents")
    def add_torrent():
        name = request.form.get("name", "").strip()
        if not name:
            flash("❌ Le nom est obligatoire", "error")
            return render_template("torrents.html", torrents=[]), 400
        with connect() as conn:
            conn.execute("INSERT INTO torrents (name, status) VALUES (?, ?)",
                         (name, request.form.get("status", "queued")))
        flash(f"✅ {name} ajouté", "success")
        return redirect(url_for("torrents"))

    @app.get("/api/task_status")
    def task_status():
        return jsonify({"running": False, "progress": "", "result": "", "source": "redriva"})

    @app.post("/api/torrents/import")
    def import_torrents():
        names = [line.strip() for line in request.get_data(as_text=True).splitlines()]
        names = [n for n in names if n]
        with connect() as conn:
            conn.executemany("INSERT INTO torrents (name) VALUES (?)", [(n,) for n in names])
        return jsonify({"imported": len(names)})

    @app.get("/api/check_token")
    def check_token():
        # what the Redriva version of the seed plan does when its Real-Debrid token is invalid
        sys.exit(1)

    @app.get("/api/interrupt")
    def interrupt():
        raise KeyboardInterrupt

    @app.get("/api/export")
    def export():
        def lines():
            yield "first line\n"
            sys.exit(1)  # half-way through a streamed answer

        return app.response_class(lines(), mimetype="text/plain")

    @app.get("/api/sync")
    def sync():
        finished = app.config["SYNC_GATE"].wait(30)
        return jsonify({"synced": finished})

    return app


app = create_app()

# Toolkit menu integration (docs/redriva.md): one call here, one include in base.html.
from toolkit.web.redriva import init_redriva  # noqa: E402

init_redriva(app)
