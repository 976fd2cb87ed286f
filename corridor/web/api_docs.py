"""The interactive API documentation, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served
from this server: no CDN, so they work on a network without internet (issue 13).

Swagger UI's and ReDoc's files come from the ``fastapi-offline`` package (its
``static/`` folder: ``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js``,
``favicon.png``), mounted at ``/static-docs``. The pages are written here rather than by
FastAPI's ``get_swagger_ui_html``, whose inline start-up script the Content-Security-
Policy would refuse: Swagger UI starts from ``static/api-docs.js`` instead, and ReDoc
starts itself from its ``<redoc spec-url>`` element. No inline script on any page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS_URL = "/static-docs"
ASSETS = Path(str(files("fastapi_offline") / "static"))
DOCS_URL = "/docs"
REDOC_URL = "/redoc"

_SWAGGER = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{root}/static/api-docs.js"></script>
</body>
</html>
"""

_REDOC = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Mount the assets and add the two pages (``FastAPI(docs_url=None, redoc_url=None)``:
    FastAPI's own pages would load them from a CDN)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="static-docs")

    def page(template: str, what: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
        async def endpoint(request: Request) -> HTMLResponse:
            root = str(request.scope.get("root_path", ""))
            return HTMLResponse(
                template.format(
                    title=escape(f"{app.title} - {what}"),
                    assets=escape(root + ASSETS_URL),
                    root=escape(root),
                    openapi=escape(root + str(app.openapi_url)),
                )
            )

        return endpoint

    app.add_route(DOCS_URL, page(_SWAGGER, "Swagger UI"), include_in_schema=False)
    app.add_route(REDOC_URL, page(_REDOC, "ReDoc"), include_in_schema=False)
