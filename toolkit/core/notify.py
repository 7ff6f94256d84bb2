"""Notifications through Apprise (one dependency, 100+ services: ntfy, Telegram, Discord,
Pushover, e-mail, JSON webhooks...).

Settings live in the ``notifications`` namespace: Apprise URLs (one per line; they carry
tokens, so they are a secret) and one switch per event. Apprise is blocking and slow to
import: it is imported and called in a worker thread only when something is sent.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pydantic import BaseModel, Field, SecretStr, field_validator

from toolkit.core.hookspecs import SettingsSchema
from toolkit.core.i18n import gettext as _
from toolkit.core.settings import SettingsStore

log = logging.getLogger(__name__)

NAMESPACE = "notifications"


def url_lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class NotificationSettings(BaseModel):
    urls: SecretStr = Field(SecretStr(""), description="Apprise URLs, one per line")
    on_problems: bool = True
    on_deleted: bool = True
    on_guard: bool = True
    on_failure: bool = True

    @field_validator("urls")
    @classmethod
    def _valid_apprise_urls(cls, value: SecretStr) -> SecretStr:
        import apprise

        for number, url in enumerate(url_lines(value.get_secret_value()), 1):
            if not apprise.Apprise().add(url):
                scheme = url.split("://", 1)[0] if "://" in url else url[:12]
                raise ValueError(f"line {number}: not a notification URL Apprise knows "
                                 f"(scheme {scheme!r})")
        return value


SCHEMA = SettingsSchema(NAMESPACE, NotificationSettings, title="Notifications")


@dataclass
class NotifyResult:
    sent: bool
    targets: int
    skipped: str | None = None  # why nothing was sent, when nothing was

    def as_dict(self) -> dict:
        return {"sent": self.sent, "targets": self.targets, "skipped": self.skipped}


def _send_blocking(urls: list[str], title: str, body: str, kind: str) -> tuple[bool, str]:
    """Whether every target got it, and Apprise's own words when one did not."""
    import apprise

    sender = apprise.Apprise()
    for url in urls:
        sender.add(url)
    notify_type = {"failure": apprise.NotifyType.FAILURE, "guard": apprise.NotifyType.WARNING,
                   "problems": apprise.NotifyType.WARNING}.get(kind, apprise.NotifyType.INFO)
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as output:
        sent = bool(sender.notify(title=title, body=body, notify_type=notify_type))
        said = output.getvalue()
    reasons = list(dict.fromkeys(line.strip() for line in said.splitlines() if line.strip()))
    return sent, " ".join(reasons)[:300]


class Notifier:
    """Sends short messages for the events the user switched on. ``public_url`` (the
    ``TOOLKIT_BASE_URL`` setting, else the address the web app was last reached at) makes
    the links in messages absolute."""

    def __init__(self, settings: SettingsStore, public_url: str = ""):
        self.settings = settings
        self.public_url = public_url.rstrip("/")

    def link(self, path: str) -> str:
        return f"{self.public_url}{path}" if self.public_url else path

    async def send(self, event: str, title: str, body: str, *, link: str | None = None,
                   force: bool = False) -> NotifyResult:
        """Send ``title``/``body`` (plus the link) for ``event``; ``force`` ignores the
        per-event switch (the test button). Never raises for a delivery failure."""
        settings: NotificationSettings = await self.settings.get(NAMESPACE)
        urls = url_lines(settings.urls.get_secret_value())
        if not urls:
            return NotifyResult(False, 0, _("no notification URL is configured"))
        if not force and not getattr(settings, f"on_{event}", False):
            return NotifyResult(False, len(urls), _("notifications for %(event)s are off", event=repr(event)))
        if link:
            body = f"{body}\n{self.link(link)}"
        try:
            sent, reason = await asyncio.to_thread(_send_blocking, urls, title, body, event)
        except Exception as exc:  # a notification must never break the job that triggered it
            log.exception("notification %r failed", event)
            sent, reason = False, str(exc)
        if not sent:
            log.warning("notification %r was not delivered to every target: %s", event, reason)
        return NotifyResult(sent, len(urls), None if sent else
                            _("delivery failed: %(reason)s", reason=reason) if reason
                            else _("delivery failed (see the log)"))
