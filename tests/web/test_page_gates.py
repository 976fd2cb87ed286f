"""Every page names the action of the role matrix it needs, like every API route, and
none answers a stranger; no page takes personal data in its URL."""

from __future__ import annotations

from fastapi.routing import APIRoute

from tests.api.test_auth import gate_of
from tests.web.conftest import PageClient, page_client

# Signing in and out, the language, and the start page are for everyone.
OPEN = {"/", "/login", "/login/code", "/logout", "/language"}
# The only query parameters: the number of the next empty row of a form.
ROW_NUMBERS = {
    ("/register/member", "index"),
    ("/tracing/enquiries/sought", "index"),
    ("/register/household", "members"),  # how many member rows a kept draft needs
    ("/login", "next"),  # the page to go back to: a path of Corridor's, ids at most
}


def page_routes(app):
    return [r for r in app.routes if isinstance(r, APIRoute) and not r.path.startswith("/api/")]


def test_every_page_names_the_action_it_needs(pages: PageClient):
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in page_routes(pages.app)
        if r.path not in OPEN and gate_of(r) is None
    ]
    assert missing == []


def test_no_page_answers_a_stranger(database, clock):
    with page_client(database, clock) as c:
        c.cookies.clear()
        for route in page_routes(c.app):
            if route.path in OPEN:
                continue
            path = route.path.replace("{", "").replace("}", "")
            for method in route.methods:
                r = c.request(method, path, follow_redirects=False)
                # A POST without a CSRF token is refused before anything else.
                assert r.status_code in (303, 401, 403), (method, route.path, r.status_code)
                if r.status_code == 303:
                    location = r.headers["location"]
                    assert location == "/login" or location.startswith("/login?next=%2F")


def test_personal_data_travels_in_posts_only(pages: PageClient):
    """Search and search-before-create are POSTs; a GET page takes no query but a row
    number."""
    for route in page_routes(pages.app):
        for param in route.dependant.query_params:
            assert (route.path, param.name) in ROW_NUMBERS
