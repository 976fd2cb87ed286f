"""Small builders for API test bodies."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

CONSENT = {"tracing": True, "share_with": ["ICRC"]}
BASIS = {"purpose": "registration and assistance", "legal_basis": "vital_interest"}


def site(client: TestClient, name: str, kind: str = "camp", pcode: str = "SY08") -> str:
    """A new site, added to the sites of the officer behind ``client`` (who is also an
    administrator in most tests), since every person query is confined to one's sites."""
    r = client.post("/api/sites", json={"name": name, "kind": kind, "pcode": pcode})
    assert r.status_code == 201, r.text
    site_id = str(r.json()["id"])
    work_at(client, site_id)
    return site_id


def work_at(client: TestClient, *site_ids: str, admin: TestClient | None = None) -> None:
    """Add sites to the sites of the officer behind ``client`` (set by ``admin``)."""
    me = client.get("/api/auth/me").json()
    r = (admin or client).put(
        f"/api/users/{me['user_id']}/sites", json={"site_ids": [*me["site_ids"], *site_ids]}
    )
    assert r.status_code == 200, r.text


def person_body(site_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"site_id": site_id, "consent": CONSENT, **BASIS}
    body.update(fields)
    return body


def register(client: TestClient, site_id: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("given_name", "Hassan")
    r = client.post("/api/persons", json=person_body(site_id, **fields))
    assert r.status_code == 201, r.text
    return dict(r.json())


def errors(response: Any) -> dict[str, str]:
    """field -> reason of an error response."""
    return {e["field"]: e["reason"] for e in response.json()["errors"]}
