"""Who may use the toolkit: the admin account, the API key and the access mode.

Two kinds of data:

- The access *settings* (namespace ``auth``: mode, trusted proxies, the proxy's user header,
  local networks) are ordinary host settings: shown and changed through the settings API,
  overridden by ``TOOLKIT_AUTH__<FIELD>`` environment variables.
- The *secrets* (the cookie signing key, the API key, the account's name and argon2 password
  hash) live in one row of ``toolkit_settings`` that no settings route reaches. They are
  created at first start; the CLI (``redriva-toolkit auth ...``) and the account page change
  them.
"""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import secrets
import threading
from dataclasses import asdict, dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from toolkit.core.hookspecs import SettingsSchema
from toolkit.core.i18n import N_  # the pages show these messages translated
from toolkit.core.models import SettingsRow, utcnow

NAMESPACE = "auth"
STATE_ROW = "toolkit_auth_state"  # a toolkit_settings row outside every settings namespace
MIN_PASSWORD = 8
Mode = Literal["forms", "external", "disabled_for_local_addresses"]

# argon2id with the library's defaults (RFC 9106 second recommendation: 64 MiB, 3 passes);
# at most two hashes at once so a burst of logins cannot take the memory
_hasher = PasswordHasher()
_hash_slots = threading.BoundedSemaphore(2)


def _networks(value) -> list[str]:
    """A list from JSON, or a comma-separated string from an environment variable."""
    if isinstance(value, str):
        value = [part for part in value.replace("\n", ",").split(",")]
    if not isinstance(value, list):
        raise ValueError("give a list of addresses or networks such as 172.18.0.0/16")
    cleaned = []
    for item in value:
        item = str(item).strip()
        if not item:
            continue
        try:
            cleaned.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (CIDR)") from None
    return cleaned


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field("forms", description="forms: log in with the admin account; external: "
                       "a trusted reverse proxy authenticates; disabled_for_local_addresses: "
                       "no login from this machine or the listed local networks")
    proxies: list[str] = Field(default_factory=list, description="Addresses or networks of "
                               "the reverse proxies trusted for the user header and "
                               "X-Forwarded-For")
    user_header: str = Field("Remote-User", pattern=r"^[A-Za-z0-9-]{1,64}$",
                             description="Header holding the user name set by the proxy")
    local_networks: list[str] = Field(default_factory=list, description="Networks counted as "
                                      "local besides loopback, e.g. 192.168.1.0/24")

    @field_validator("proxies", "local_networks", mode="before")
    @classmethod
    def _split(cls, value):
        return _networks(value)

    @model_validator(mode="after")
    def _external_needs_proxies(self) -> "AuthSettings":
        if self.mode == "external" and not self.proxies:
            raise ValueError(N_("external mode needs the address of the reverse proxy"))
        return self


SCHEMA = SettingsSchema(NAMESPACE, AuthSettings, title="Access")


def new_api_key() -> str:
    return secrets.token_hex(16)  # 32 hex digits, like Sonarr's


@dataclass(frozen=True)
class AuthState:
    secret_key: str
    api_key: str
    username: str = ""
    password_hash: str = ""
    session_epoch: int = 1  # in every session cookie; a new password moves it: old cookies die

    @property
    def has_account(self) -> bool:
        return bool(self.username and self.password_hash)

    @property
    def session_id(self) -> str:
        return f"{self.session_epoch}:{self.username}"

    def api_key_matches(self, candidate: str | None) -> bool:
        return bool(candidate) and secrets.compare_digest(candidate.encode(), self.api_key.encode())


class PasswordError(ValueError):
    pass


def check_new_account(username: str, password: str) -> None:
    if not username.strip() or len(username) > 100:
        raise PasswordError(N_("give a user name (up to 100 characters)"))
    if len(password) < MIN_PASSWORD:
        raise PasswordError(N_("the password needs at least 8 characters"))  # MIN_PASSWORD


def hash_password(password: str) -> str:
    """Blocking (about 0.1 s and 64 MiB): call it in a thread."""
    with _hash_slots:
        return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no account: verify anyway, so the timing does not tell")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Blocking, like :func:`hash_password`; ``None`` checks against a dummy hash."""
    target = password_hash or _dummy_hash()
    with _hash_slots:
        try:
            _hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            return False
    return password_hash is not None


class AuthStore:
    """Reads and writes the secrets row; creates it (new signing key and API key) on first
    read."""

    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    async def load(self) -> AuthState:
        async with self.sessions() as session:
            row = await session.get(SettingsRow, STATE_ROW)
            if row is not None:
                return AuthState(**row.values)
            state = AuthState(secret_key=secrets.token_urlsafe(48), api_key=new_api_key())
            session.add(SettingsRow(namespace=STATE_ROW, values=asdict(state), updated_at=utcnow()))
            try:
                await session.commit()
            except IntegrityError:  # another process created it first: use theirs
                await session.rollback()
                return AuthState(**(await session.get(SettingsRow, STATE_ROW)).values)
            return state

    async def save(self, state: AuthState) -> AuthState:
        await self.load()  # the row exists from here on
        async with self.sessions() as session:
            row = await session.get(SettingsRow, STATE_ROW)
            row.values, row.updated_at = asdict(state), utcnow()
            await session.commit()
        return state

    async def set_password(self, username: str, password: str) -> AuthState:
        """Create the account or change its name and password; every session ends."""
        check_new_account(username, password)
        hashed = await asyncio.to_thread(hash_password, password)
        state = await self.load()
        return await self.save(AuthState(state.secret_key, state.api_key, username.strip(),
                                         hashed, state.session_epoch + 1))

    async def rotate_api_key(self) -> AuthState:
        state = await self.load()
        return await self.save(AuthState(state.secret_key, new_api_key(), state.username,
                                         state.password_hash, state.session_epoch))

    async def verify(self, username: str, password: str) -> bool:
        state = await self.load()
        known = state.has_account and secrets.compare_digest(
            username.strip().encode(), state.username.encode())
        return await asyncio.to_thread(verify_password,
                                       state.password_hash if known else None, password)
