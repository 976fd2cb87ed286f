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


def match_results(client: TestClient, name: str) -> list[dict[str, Any]]:
    """The candidates ``POST /api/persons/match`` offers for a full name, best first."""
    r = client.post("/api/persons/match", json={"full_name": name})
    assert r.status_code == 200, r.text
    return list(r.json())


def errors(response: Any) -> dict[str, str]:
    """field -> reason of an error response."""
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def index_rebuilt_on_upgrade(
    client: TestClient, database: Any, person_id: str, key: str, revision: str, name: str,
    also: tuple[str, ...] = (),
) -> None:
    """The match index as an older version built it (no pair keys, no ``key`` and no
    key of ``also``: keys of later versions that would find the person too) is rebuilt
    by ``corridor.upgrade`` after a downgrade to ``revision``: the person holds ``key``
    again and a search for ``name`` finds them first, which it did not before."""
    from alembic import command
    from sqlalchemy import delete, select

    from corridor.storage.migrate import alembic_config, current_revision, head_revision
    from corridor.storage.tables import person_match_keys
    from corridor.upgrade import upgrade

    def first() -> list[str]:
        r = client.post("/api/persons/match", json={"full_name": name})
        assert r.status_code == 200, r.text
        return [m["person"]["id"] for m in r.json()]

    with database.transaction() as conn:
        conn.execute(delete(person_match_keys).where(person_match_keys.c.key.like("p:%")))
        conn.execute(delete(person_match_keys).where(person_match_keys.c.key.in_((key, *also))))
    assert person_id not in first()
    cfg = alembic_config(database)
    with database.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    database.engine.dispose()
    result = upgrade(database)
    assert current_revision(database) == head_revision()
    assert result.done == ["!rebuild-match-index"]
    with database.read() as conn:
        keys = set(
            conn.execute(
                select(person_match_keys.c.key).where(person_match_keys.c.person_id == person_id)
            ).scalars()
        )
    assert key in keys
    assert first()[0] == person_id
