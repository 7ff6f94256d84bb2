"""Shared service clients: Sonarr / Radarr / Lidarr API, path mappings, repair after a
cleanup, Docker auto-detection. See docs/services.md."""
from __future__ import annotations

from toolkit.core.services.arr import (
    ArrClient,
    CommandState,
    ConnectionResult,
    LidarrClient,
    RadarrClient,
    SonarrClient,
    client_for,
)
from toolkit.core.services.errors import (
    BadResponse,
    DockerUnavailable,
    ServiceAuthError,
    ServiceBusy,
    ServiceConflict,
    ServiceError,
    ServiceTimeout,
    ServiceUnreachable,
    WrongApplication,
)
from toolkit.core.services.pathmap import PathMapper, PathMapping, is_under
from toolkit.core.services.repair import (
    ArrService,
    RemovedLink,
    RepairPlan,
    RepairReport,
    execute_plan,
    plan_repair,
    repair_after_cleanup,
)
from toolkit.core.services.settings import (
    ArrConnection,
    LidarrConnection,
    RadarrConnection,
    RepairPolicy,
    RepairSettings,
    ServiceKind,
    SonarrConnection,
)

__all__ = [
    "ArrClient", "ArrConnection", "ArrService", "BadResponse", "CommandState", "ConnectionResult",
    "DockerUnavailable", "LidarrClient", "LidarrConnection", "PathMapper", "PathMapping",
    "RadarrClient", "RadarrConnection", "RemovedLink", "RepairPlan", "RepairPolicy", "RepairReport",
    "RepairSettings", "ServiceAuthError", "ServiceBusy", "ServiceConflict", "ServiceError",
    "ServiceKind", "ServiceTimeout", "ServiceUnreachable", "SonarrClient", "SonarrConnection",
    "WrongApplication", "client_for", "execute_plan", "is_under", "plan_repair", "repair_after_cleanup",
]
