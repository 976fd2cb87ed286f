"""Demo users, one per role, for the shipped scenario. Their passwords and TOTP secrets
are printed by `corridor demo`: DEMO ONLY, never for real data."""

from __future__ import annotations

from typing import Any

from corridor.security.roles import Role
from corridor.services import Services

DEMO_PASSWORD = "demo-only-password"


def create_demo_users(svc: Services) -> list[dict[str, Any]]:
    """One user per role, on every demo site; their credentials."""
    site_ids = [s["id"] for s in svc.sites.all()]
    out = []
    for role in Role:
        username = f"demo-{role.value.replace('_', '-')}"
        _, secret = svc.accounts.create(
            username,
            f"Demo {role.value.replace('_', ' ')}",
            DEMO_PASSWORD,
            [role],
            site_ids,
            audit=svc.audit.operator_hook("demo", "users.admin", "demo data"),
        )
        out.append(
            {
                "username": username,
                "password": DEMO_PASSWORD,
                "role": role.value,
                "totp_secret": secret,
            }
        )
    return out
