"""Accessible on a cheap tablet: every main page at a portrait tablet's width without
sideways scrolling, readable contrast (WCAG 2 AA) for its text, a label on every input,
and a keyboard order that starts with the skip link and reaches the page's first control.
In English (left to right) and Arabic (right to left)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import LiveServer, choose_language, sign_in

pytestmark = pytest.mark.browser

PORTRAIT = {"width": 768, "height": 1024}
EXIT = "Baghouz exit point"

# (role, pages): each role sees its own pages.
PAGES = {
    "registrar": ["/", "/register", "/register/household", "/search"],
    "site_manager": ["/manifests", "/unaccounted", "/sites/{exit}"],
    "tracing_officer": ["/tracing", "/tracing/enquiries", "/tracing/enquiries/new"],
    "data_protection_officer": [
        "/",
        "/dpo",
        "/dpo/audit",
        "/dpo/alerts",
        "/dpo/disposals",
        "/dpo/exports",
        "/dpo/holds",
        "/dpo/verify",
        "/dpo/drill",
        "/dpo/drill/{exit}",
    ],  # fmt: skip
}

# For each visible element holding text: its colour against the first opaque background
# behind it, as a WCAG 2 contrast ratio; large text (24px, or 18.66px bold) needs 3:1.
_LOW_CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!own || box.width === 0 || box.height === 0 || style.visibility === 'hidden') continue;
    if (el.closest('svg')) continue;  // charts: judged by their own labels
    const fg = lum(rgb(style.color).slice(0, 3)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const what = `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < needed) bad.push(`${what} ${ratio.toFixed(2)}`);
  }
  return bad;
}"""

_UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name)"""


def _check(page, path: str) -> None:
    page.goto(path)
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= PORTRAIT["width"], f"{path}: {wide}px wide at {PORTRAIT['width']}px"
    assert page.evaluate(_LOW_CONTRAST) == [], path
    assert page.evaluate(_UNLABELLED) == [], path
    if page.locator("form[data-keyboard]").count():
        # A form made for the keyboard opens in its first field (issue 13): no Tab first.
        opened = page.evaluate("() => document.activeElement.id")
        assert opened.startswith("f-"), f"{path}: opens with the focus on {opened!r}"
        return
    page.keyboard.press("Tab")
    first = page.evaluate("() => document.activeElement.className")
    assert "skip" in first, f"{path}: the first Tab lands on {first!r}"
    controls = page.evaluate(
        "() => document.querySelectorAll('#main a[href], #main button, #main input, "
        "#main select, #main textarea').length"
    )
    if controls:  # (a dashboard of figures has none to reach)
        page.keyboard.press("Enter")  # the skip link moves on to the page's own content
        page.keyboard.press("Tab")
        inside = page.evaluate("() => !!document.activeElement.closest('#main')")
        assert inside, f"{path}: after the skip link, Tab does not reach the main content"


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("role", sorted(PAGES))
def test_main_pages_fit_a_tablet_read_well_and_work_by_keyboard(
    browser, live_server: LiveServer, role: str, language: str
):
    context = browser.new_context(viewport=PORTRAIT, base_url=live_server.url, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        sign_in(page, live_server, role)
        if language == "ar":
            page.goto("/")
            choose_language(page, "العربية")
            assert page.evaluate("() => document.documentElement.dir") == "rtl"
        for path in PAGES[role]:
            _check(page, path.format(exit=live_server.sites[EXIT]))
        # The check sees what it should: pale grey text on white is caught.
        page.evaluate(
            "() => { const p = document.createElement('p'); p.textContent = 'pale probe';"
            " p.style.color = '#bbbbbb'; p.style.background = '#ffffff';"
            " document.querySelector('#main').append(p); }"
        )
        assert [b for b in page.evaluate(_LOW_CONTRAST) if "pale probe" in b]
    finally:
        context.close()
