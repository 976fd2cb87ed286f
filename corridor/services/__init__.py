"""Services: the only place that writes. Each use case runs in one transaction."""

from corridor.services.container import Services

__all__ = ["Services"]
