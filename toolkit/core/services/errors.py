"""Typed errors of the service clients. Messages are meant for users: they name the
service and the URL (never the API key) and say what to check."""
from __future__ import annotations


class ServiceError(Exception):
    """Base class: anything that went wrong talking to Sonarr/Radarr/Lidarr."""

    #: short machine-readable reason, e.g. for the web page and the CLI report
    reason = "error"

    def __init__(self, message: str, *, service: str = "", url: str = "", status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.service = service
        self.url = url
        self.status_code = status_code

    def to_dict(self) -> dict:
        return {"reason": self.reason, "message": self.message, "service": self.service,
                "url": self.url, "status_code": self.status_code}


class ServiceUnreachable(ServiceError):
    """No TCP connection: wrong host/port, service down, DNS failure, TLS mismatch."""
    reason = "unreachable"


class ServiceTimeout(ServiceError):
    """Connected, but no answer within the timeout."""
    reason = "timeout"


class ServiceAuthError(ServiceError):
    """HTTP 401/403: the API key is wrong."""
    reason = "unauthorized"


class WrongApplication(ServiceError):
    """Something answered, but it is not the expected application (or not its API)."""
    reason = "wrong_application"


class ServiceConflict(ServiceError):
    """HTTP 409: the *arr's own failsafe (e.g. root folder missing or empty)."""
    reason = "conflict"


class ServiceBusy(ServiceError):
    """429 or 5xx still answered after every retry."""
    reason = "server_error"


class BadResponse(ServiceError):
    """Any other unexpected answer (4xx, body not the expected JSON)."""
    reason = "bad_response"


class DockerUnavailable(Exception):
    """The Docker Engine cannot be used (no socket, no permission, engine down)."""

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail
