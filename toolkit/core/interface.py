"""The interface's host settings (namespace ``interface``): its language.

``language``: ``auto`` (the default) follows Redriva when the toolkit is mounted in it, else
the browser's ``Accept-Language``; ``en`` or ``fr`` fix it for every page, API error,
notification and command. The environment variable ``TOOLKIT_LANGUAGE`` wins over it (the
Account page then shows the picker disabled).
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from toolkit.core.hookspecs import SettingsSchema
from toolkit.core.i18n import NAMESPACE


class InterfaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Literal["auto", "en", "fr"] = Field(
        "auto", description="auto: Redriva's language when mounted in it, else the browser's; "
                            "en or fr: always that one")


SCHEMA = SettingsSchema(NAMESPACE, InterfaceSettings, title="Interface")
