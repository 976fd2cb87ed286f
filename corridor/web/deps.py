"""FastAPI dependencies."""

from __future__ import annotations

from fastapi import Request

from corridor.services import Services


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
