"""Per-plugin settings: a pydantic model, stored as JSON in ``toolkit_settings``.

Reads apply defaults, then stored values, then environment overrides
``TOOLKIT_<NAMESPACE>__<FIELD>`` (documented; they win over the database and are reported as
such). Writes validate the merged values; :class:`SettingsError` carries field messages (the
web turns it into HTTP 422). ``SecretStr`` fields are masked on every read meant for humans or
APIs; sending the mask back keeps the stored secret. A secret declared
``json_schema_extra={"bound_to": ["host", "port"]}`` is dropped when one of those fields
changes without a new secret in the same change.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from toolkit.core.errors import FieldsError
from toolkit.core.hookspecs import SettingsSchema
from toolkit.core.i18n import N_
from toolkit.core.models import SettingsRow, utcnow

MASK = "********"  # ASCII: survives JSON escaping and HTML forms unchanged


class SettingsError(FieldsError):
    """Invalid settings: ``fields`` maps a dotted field name to its message."""


def field_errors(exc: ValidationError) -> dict[str, str]:
    """A pydantic error as ``{"dotted.field": "message"}``."""
    # a validator's own message, without pydantic's "Value error, " prefix
    return {
        ".".join(str(p) for p in err["loc"]) or "__root__": err["msg"].removeprefix("Value error, ")
        for err in exc.errors()
    }


def env_overrides(namespace: str, model: type[BaseModel]) -> dict[str, str]:
    prefix = f"TOOLKIT_{namespace.upper()}__"
    names = {name.upper(): name for name in model.model_fields}
    return {
        names[key[len(prefix):]]: value
        for key, value in os.environ.items()
        if key.startswith(prefix) and key[len(prefix):] in names
    }


def settings_of_values(namespace: str, model: type[BaseModel], stored: dict) -> BaseModel:
    """The settings of ``namespace``: its ``stored`` values under the environment's overrides."""
    try:
        return model(**{**stored, **env_overrides(namespace, model)})
    except ValidationError:
        # A bad environment override or an old stored value must not lock the user out:
        # fall back to what validates, most trusted first.
        try:
            return model(**stored)
        except ValidationError:
            return model()


def _secret_fields(model: type[BaseModel]) -> set[str]:
    return {n for n, f in model.model_fields.items() if f.annotation is SecretStr
            or f.annotation == (SecretStr | None)}


def _bound_secrets(model: type[BaseModel]) -> dict[str, list[str]]:
    """Secret fields declared ``json_schema_extra={"bound_to": [...]}``: the fields that say
    which server the secret belongs to."""
    bound = {}
    for name in _secret_fields(model):
        extra = model.model_fields[name].json_schema_extra
        if isinstance(extra, dict) and extra.get("bound_to"):
            bound[name] = list(extra["bound_to"])
    return bound


def _validated(model: type[BaseModel], values: dict) -> BaseModel:
    try:
        return model(**values)
    except ValidationError as exc:
        raise SettingsError(field_errors(exc)) from None


def _plain(settings: BaseModel) -> dict:
    """Values as stored: secrets in clear (the database is the one place that keeps them)."""
    data = settings.model_dump(mode="json")
    for name in _secret_fields(type(settings)):
        value = getattr(settings, name)
        data[name] = value.get_secret_value() if value is not None else None
    return data


def public(settings: BaseModel) -> dict:
    """Values safe to show: secrets masked (empty stays empty so the UI can say "not set")."""
    data = settings.model_dump(mode="json")
    for name in _secret_fields(type(settings)):
        value = getattr(settings, name)
        data[name] = MASK if value is not None and value.get_secret_value() else ""
    return data


class SettingsStore:
    """Reads and writes every plugin's settings; ``tables`` are the plugins' tables by name,
    for schemas that keep their values in a table of their own."""

    ROW_ID = 1

    def __init__(self, sessions: async_sessionmaker, schemas: dict[str, SettingsSchema],
                 tables: dict[str, Table] | None = None):
        self.sessions = sessions
        self.schemas = schemas
        self.tables = tables or {}
        # called with (namespace, new settings) after each saved change: for values kept in
        # memory on every request (the interface language), which must not read the database
        self.listeners: list[Callable[[str, BaseModel], None]] = []
        for schema in schemas.values():
            if schema.table and schema.table not in self.tables:
                raise ValueError(f"settings {schema.namespace!r} name unknown table "
                                 f"{schema.table!r}")

    def schema(self, namespace: str) -> SettingsSchema:
        try:
            return self.schemas[namespace]
        except KeyError:
            raise KeyError(f"no settings namespace {namespace!r}") from None

    async def _stored(self, namespace: str) -> dict:
        table = self._table(namespace)
        async with self.sessions() as session:
            if table is None:
                row = await session.get(SettingsRow, namespace)
                return dict(row.values) if row else {}
            row = (await session.execute(
                select(table).where(table.c.id == self.ROW_ID))).mappings().first()
            if row is None:
                return {}
            fields = self.schema(namespace).model.model_fields
            return {k: v for k, v in row.items() if k in fields and v is not None}

    def _table(self, namespace: str) -> Table | None:
        name = self.schema(namespace).table
        return self.tables[name] if name else None

    async def _save(self, namespace: str, values: dict) -> None:
        table = self._table(namespace)
        async with self.sessions() as session:
            if table is None:
                row = await session.get(SettingsRow, namespace)
                if row is None:
                    session.add(SettingsRow(namespace=namespace, values=values,
                                            updated_at=utcnow()))
                else:
                    row.values, row.updated_at = values, utcnow()
            else:
                exists = (await session.execute(
                    select(table.c.id).where(table.c.id == self.ROW_ID))).first()
                if exists:
                    await session.execute(update(table).where(table.c.id == self.ROW_ID)
                                          .values(**values, updated_at=utcnow()))
                else:
                    await session.execute(insert(table).values(
                        id=self.ROW_ID, **values, created_at=utcnow(), updated_at=utcnow()))
            await session.commit()

    async def is_saved(self, namespace: str) -> bool:
        """Whether anything was ever saved for ``namespace``."""
        return bool(await self._stored(namespace))

    async def ensure_defaults(self, namespace: str) -> BaseModel:
        """Store the defaults when nothing is stored yet (the seed's "creates defaults")."""
        if not await self._stored(namespace):
            await self._save(namespace, _plain(self.schema(namespace).model()))
        return await self.get(namespace)

    async def get(self, namespace: str) -> BaseModel:
        return settings_of_values(namespace, self.schema(namespace).model, await self._stored(namespace))

    def overridden(self, namespace: str) -> list[str]:
        return sorted(env_overrides(namespace, self.schema(namespace).model))

    async def update(self, namespace: str, changes: dict[str, Any]) -> BaseModel:
        """Validate ``changes`` merged over the stored values and save them; nothing is
        written when any field is invalid."""
        await self._save(namespace, _plain(await self.validate(namespace, changes)))
        saved = await self.get(namespace)
        for listener in self.listeners:
            listener(namespace, saved)
        return saved

    async def validate(self, namespace: str, changes: dict[str, Any]) -> BaseModel:
        """What :meth:`update` would store (environment overrides not applied), or its
        :class:`SettingsError`; nothing is written. For a change spanning namespaces: check
        each before saving any."""
        model = self.schema(namespace).model
        if not isinstance(changes, dict):
            raise SettingsError({"__root__": N_("expected a JSON object")})
        unknown = sorted(set(changes) - set(model.model_fields))
        if unknown:
            raise SettingsError({name: N_("unknown setting") for name in unknown})
        stored = await self._stored(namespace)
        merged = {**stored, **changes}
        for name in _secret_fields(model):
            if changes.get(name) == MASK:
                merged[name] = stored.get(name)
        settings = _validated(model, merged)
        bound = _bound_secrets(model)
        if bound:
            # a key goes only to the server it was given for: moving the server without
            # giving a key again drops the stored one
            try:
                before = model(**stored)
            except ValidationError:
                before = model()
            dropped = [name for name, fields in bound.items()
                       if changes.get(name) in (None, MASK) and merged.get(name)
                       and any(getattr(settings, f) != getattr(before, f) for f in fields)]
            if dropped:
                settings = _validated(model, {**merged, **{name: "" for name in dropped}})
        return settings
