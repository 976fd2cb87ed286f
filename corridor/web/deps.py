"""FastAPI dependencies."""

from __future__ import annotations

from fastapi import Request

from corridor.services import Services


async def services(request: Request) -> Services:
    # async: a plain attribute read needs no trip through the thread pool
    svc: Services = request.app.state.services
    return svc
