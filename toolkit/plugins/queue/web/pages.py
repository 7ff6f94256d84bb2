"""The page ``/queue``: tabs Queue (live items with rule and strikes), Plan (review and
apply), Journal (undo) and Rules (a form generated from the settings' schema).

One URL serves the whole page or, for an htmx request, only the tabs (``Vary: HX-Request``);
the tab is in the URL so reload and the back button work. Errors are shown in place."""
from __future__ import annotations

import typing
from pathlib import Path

from quart import Blueprint, Response, render_template, request

from pydantic import ValidationError

from toolkit.api import MAX_ID, N_, PluginError, SettingsError, current_toolkit
from toolkit.api import gettext as _

from .. import service
from ..engine.plan import actionable
from ..settings import ACTIONS, LABELS, QueueSettings
from .routes import ApplyBody

HERE = Path(__file__).resolve().parent
TABS = {"queue": N_("Queue"), "plan": N_("Plan"), "journal": N_("Journal"), "rules": N_("Rules")}
pages = Blueprint("queue_pages", __name__, template_folder=str(HERE / "templates"))


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-History-Restore-Request") != "true"


def format_rules(rules: list[dict]) -> str:
    """``name: pattern => action``, a regular expression written ``/.../``."""
    return "\n".join(f"{r['name']}: {'/' + r['pattern'] + '/' if r['regex'] else r['pattern']}"
                     f" => {r['action']}" for r in rules)


def parse_rules(text: str) -> list[dict]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, rest = line.partition(":")
        pattern, arrow, action = rest.rpartition("=>")
        if not colon or not arrow:
            raise SettingsError({"message_rules": _("line %(n)s: write  name: pattern => action",
                                                    n=number)})
        pattern = pattern.strip()
        regex = len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/")
        rules.append({"name": name.strip(), "pattern": pattern[1:-1] if regex else pattern,
                      "regex": regex, "action": action.strip()})
    return rules


def form_fields(values: dict, overridden: list[str]) -> list[dict]:
    """The Rules form, field by field, from the settings model."""
    fields = []
    for name, info in QueueSettings.model_fields.items():
        choices = typing.get_args(info.annotation)
        if name == "message_rules":
            kind, value = "rules", format_rules(values[name])
        elif info.annotation is bool:
            kind, value = "bool", values[name]
        elif choices and all(isinstance(c, str) for c in choices):
            kind, value = "choice", values[name]
        elif info.annotation in (int, float):
            kind, value = "number", values[name]
        else:
            kind, value = "text", values[name]
        fields.append({"name": name, "kind": kind, "value": value, "label": LABELS[name],
                       "help": info.description or "", "choices": choices,
                       "step": "any" if info.annotation is float else "1",
                       "env": name in overridden})
    return fields


async def _context(tab: str, **extra) -> dict:
    tk = current_toolkit()
    plan = await service.latest_plan(tk)
    context = {"tab": tab, "tabs": TABS, "plan": plan, "actions": ACTIONS,
               "actionable": actionable, **extra}
    if plan is not None:
        context["todo"] = [e for e in plan["entries"] if actionable(e)]
    if tab == "journal":
        context["journal"] = await service.journal_rows(tk)
    if tab == "rules":
        settings = await tk.settings.get(service.NAMESPACE)
        values = extra.get("values") or settings.model_dump(mode="json")
        context["fields"] = form_fields(values, tk.settings.overridden(service.NAMESPACE))
    return context


async def _render(tab: str, status: int = 200, **extra) -> Response:
    context = await _context(tab, **extra)
    template = "queue/_app.html" if _is_htmx() else "queue/page.html"
    response = Response(await render_template(template, **context), status=status)
    response.headers["Vary"] = "HX-Request"
    if _is_htmx():
        response.headers["HX-Push-Url"] = f"/queue?tab={tab}"
    return response


@pages.get("/queue")
async def page():
    tab = request.args.get("tab", "queue")
    return await _render(tab if tab in TABS else "queue")


@pages.post("/queue/check")
async def check():
    plan = await service.check(current_toolkit(), source="web")
    return await _render("plan", notice=_("Checked: %(seen)s download(s) in the queues, "
                                          "%(planned)s in the plan.",
                                          seen=len(plan["observed"]), planned=len(plan["entries"])))


@pages.post("/queue/apply")
async def apply():
    form = await request.form
    try:
        chosen = ApplyBody.model_validate({"plan_id": form.get("plan_id", type=int),
                                           "token": form.get("token", "")})
        applied = await service.apply(current_toolkit(), chosen.plan_id, chosen.token)
    except ValidationError:
        return await _render("plan", error=_("This form does not name a plan: check again."))
    except PluginError as exc:
        return await _render("plan", error=exc.message)
    return await _render("plan", applied=applied)


@pages.post(f"/queue/journal/<int(max={MAX_ID}):journal_id>/undo")
async def undo(journal_id: int):
    try:
        result = await service.undo(current_toolkit(), journal_id)
    except PluginError as exc:
        return await _render("journal", error=exc.message)
    return await _render("journal", notice=_("Undone: %(answer)s", answer=result["answer"]))


@pages.post("/queue/rules")
async def save_rules():
    tk = current_toolkit()
    form = await request.form
    overridden = set(tk.settings.overridden(service.NAMESPACE))
    changes: dict = {}
    for name in QueueSettings.model_fields:
        if name in overridden or name not in form:
            continue
        values = form.getlist(name)
        changes[name] = values[-1]  # a checkbox follows its hidden "false"
    values = None
    try:
        if "message_rules" in changes:
            changes["message_rules"] = parse_rules(changes["message_rules"])
        await tk.settings.update(service.NAMESPACE, changes)
    except SettingsError as exc:
        fields = exc.fields
        values = {**(await tk.settings.get(service.NAMESPACE)).model_dump(mode="json"),
                  **{k: v for k, v in changes.items() if k != "message_rules"},
                  "message_rules": []}
        return await _render("rules", status=200 if _is_htmx() else 422, errors=fields, values=values,
                             rules_text=form.get("message_rules", ""))
    return await _render("rules", notice=_("Rules saved."))
