"""The web layer: parses, calls a service, renders."""

from corridor.web.app import create_app

__all__ = ["create_app"]
