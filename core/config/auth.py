"""Login, sessions and lockout settings (`auth:` in the site file), and the
records' deadlines (`records:`)."""

from __future__ import annotations

from pydantic import Field, IPvAnyNetwork

from core.config.base import Strict


class AuthConfig(Strict):
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="browser session lifetime")
    token_days: float = Field(default=90.0, gt=0, le=3650, description="default API token lifetime")
    max_failures: int = Field(default=5, ge=1, le=100,
                              description="failed logins for one name (or one client) within the window "
                                          "before further attempts are refused")
    failure_window_s: float = Field(default=900.0, ge=10, le=86400, description="lockout window, seconds")
    secure_cookies: bool = Field(default=False, description="mark the session cookie Secure (behind HTTPS)")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list, max_length=64,
        description="addresses of reverse proxies whose X-Forwarded-For names the client (e.g. 10.0.0.5/32); "
                    "from anyone else the header is ignored")



class RecordsConfig(Strict):
    complaint_assign_hours: float = Field(default=24.0, gt=0, le=24 * 90,
                                          description="hours from receipt until a complaint must be assigned")
    complaint_resolve_hours: float = Field(default=120.0, gt=0, le=24 * 365,
                                           description="hours from receipt until a complaint must be resolved")
    case_due_days: float = Field(default=14.0, gt=0, le=365, description="default days until a case is due")
    evidence_max_bytes: int = Field(default=10_000_000, ge=10_000, le=100_000_000,
                                    description="largest evidence photo accepted")

