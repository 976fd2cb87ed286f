"""Every page names the action of the role matrix it needs, like every API route, and
none answers a stranger; no page takes personal data in its URL."""

from __future__ import annotations

from tests.api.test_auth import gate_of
from tests.support.route_table import all_routes
from tests.web.conftest import PageClient, page_client

# Signing in and out, the language, and the start page are for everyone.
OPEN = {"/", "/login", "/login/code", "/logout", "/language"}
# A signed-in user's own account (no matrix action: every user changes their own
# password, as ``POST /api/auth/password``); a stranger is still sent to sign in.
OWN_ACCOUNT = {"/account/password"}
# The only query parameters, none of them personal data.
ROW_NUMBERS = {
    # the number of the next empty row of a form
    ("/register/member", "index"),
    ("/tracing/enquiries/sought", "index"),
    ("/register/household", "members"),  # how many member rows a kept draft needs
    ("/login", "next"),  # the page to go back to: a path of Corridor's, ids at most
    # the print layout (band or card), the enquiries' state and page number
    ("/persons/{person_id}/wristband", "layout"),
    ("/tracing/enquiries", "state"),
    ("/tracing/enquiries", "page_number"),
}


def page_routes(app):
    """Every page route and its .json twin (``route_table.all_routes``). Until create_app
    took the routes as declared (corridor/web/routers.py) they stood behind FastAPI's
    ``include_router`` wrapper, out of ``app.routes``: this list was empty and the tests
    below passed on no page at all."""
    found = [r for r in all_routes(app) if not r.path.startswith("/api/")]
    assert len(found) > 60, f"the walk found {len(found)} page routes"
    return found


def test_every_page_names_the_action_it_needs(pages: PageClient):
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in page_routes(pages.app)
        if r.path not in OPEN | OWN_ACCOUNT and gate_of(r) is None
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
            assert (route.path.removesuffix(".json"), param.name) in ROW_NUMBERS
