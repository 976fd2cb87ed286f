// Nothing typed is lost (docs/web.md): the write forms marked data-keep are sent by
// fetch, once at a time (the button is disabled while one is in flight), with the
// idempotency key the server put in the form, so that sending again is always safe.
//
// When a form cannot be sent (no network, the session expired, a stale form, a server
// error) what was typed stays: in the page, or, when the officer must sign in again or
// the form must be reloaded, in sessionStorage (this tab only, gone when the tab
// closes), restored into the form afterwards. A draft is kept only from a failed
// submission until it succeeds, at most 12 hours, only for the officer who typed it,
// and every draft is wiped on sign-out.
(function () {
  "use strict";
  var PREFIX = "corridor:draft:";
  var MAX_AGE_MS = 12 * 3600 * 1000;
  var SKIP = { csrf_token: true };

  function user() { return document.body.dataset.user || ""; }
  function draftKey() { return PREFIX + location.pathname; }

  function banner(id, text) {
    var el = document.getElementById(id);
    if (!el) return;
    if (text) { el.textContent = text; el.hidden = false; } else { el.hidden = true; }
  }
  function say(kind) {
    var el = document.getElementById("form-status");
    if (el) banner("form-status", kind ? el.dataset[kind] : "");
  }
  function offline(on) {
    var el = document.getElementById("offline");
    if (el) el.hidden = !on;
    document.body.classList.toggle("is-offline", on);
  }

  function save(form) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (!SKIP[name] && typeof value === "string") fields.push([name, value]);
    });
    try {
      sessionStorage.setItem(draftKey(), JSON.stringify({
        user: user(), action: form.getAttribute("action"), at: Date.now(), fields: fields
      }));
    } catch (e) { /* storage full or off: the page still holds the values */ }
  }
  function clear(form) { sessionStorage.removeItem(draftKey()); }
  function clearAll() {
    for (var i = sessionStorage.length - 1; i >= 0; i--) {
      var k = sessionStorage.key(i);
      if (k && k.indexOf(PREFIX) === 0) sessionStorage.removeItem(k);
    }
  }

  function fill(form, fields) {
    var seen = {};
    fields.forEach(function (pair) {
      var name = pair[0], value = pair[1];
      var els = form.querySelectorAll('[name="' + CSS.escape(name) + '"]');
      els.forEach(function (el) {
        if (el.type === "checkbox" || el.type === "radio") {
          if (!seen[name]) { els.forEach(function (o) { o.checked = false; }); }
          if (el.value === value) el.checked = true;
        } else if (el.tagName === "SELECT" && el.multiple) {
          Array.prototype.forEach.call(el.options, function (o) {
            if (o.value === value) o.selected = true;
          });
        } else {
          el.value = value;
        }
      });
      seen[name] = true;
    });
  }

  function restore(form) {
    var raw = sessionStorage.getItem(draftKey());
    if (!raw) return;
    var draft;
    try { draft = JSON.parse(raw); } catch (e) { clear(form); return; }
    if (draft.user !== user() || Date.now() - draft.at > MAX_AGE_MS ||
        draft.action !== form.getAttribute("action")) {
      if (draft.user !== user() || Date.now() - draft.at > MAX_AGE_MS) clear(form);
      return;
    }
    // A household with more member rows than the form shows: ask for them first.
    var rows = form.dataset.rows ? parseInt(form.dataset.rows, 10) : null;
    if (rows !== null) {
      var most = -1;
      draft.fields.forEach(function (p) {
        var m = /^members\[(\d+)\]\./.exec(p[0]);
        if (m && p[1] !== "") most = Math.max(most, parseInt(m[1], 10));
      });
      if (most + 1 > rows) {
        var url = new URL(location.href);
        url.searchParams.set("members", String(most + 1));
        location.replace(url.toString());
        return;
      }
    }
    fill(form, draft.fields);
    say("restored");
  }

  function busy(form, on) {
    form.dataset.busy = on ? "1" : "";
    form.setAttribute("aria-busy", on ? "true" : "false");
    form.querySelectorAll("button, input[type=submit]").forEach(function (b) {
      if (on) { b.dataset.wasDisabled = b.disabled ? "1" : ""; b.disabled = true; }
      else if (!b.dataset.wasDisabled) { b.disabled = false; }
    });
  }

  function showPage(html) {
    // A form sent back with its problems marked (or an error page): show it in place.
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("main");
    var main = document.getElementById("main");
    if (!fresh || !main) { document.documentElement.innerHTML = html; return; }
    main.replaceWith(fresh);
    if (doc.title) document.title = doc.title;
    if (window.htmx) window.htmx.process(fresh);
    hook(fresh);
    var alert = fresh.querySelector("[role=alert]");
    if (alert) fresh.focus();
  }

  function send(form, submitter) {
    if (form.dataset.busy === "1") return;  // a second tap while the first is in flight
    save(form);
    busy(form, true);
    say("");
    var body = new URLSearchParams();
    new FormData(form, submitter || undefined).forEach(function (value, name) {
      if (typeof value === "string") body.append(name, value);
    });
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Corridor-Form": "1" }
    }).then(function (response) {
      offline(false);
      var next = response.headers.get("X-Corridor-Location");
      var error = response.headers.get("X-Corridor-Error");
      if (next) {
        if (next.indexOf("/login") === 0) {
          // Signed out (the session expired): the draft waits for the officer's return.
          location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
          return;
        }
        clear(form);
        location.assign(next);
        return;
      }
      if (error === "stale_form") {  // signed in again since: a fresh form, same draft
        location.reload();
        return;
      }
      if (response.status >= 500) {
        busy(form, false);
        say("server");
        return;
      }
      return response.text().then(function (html) {
        busy(form, false);
        showPage(html);
      });
    }).catch(function () {
      busy(form, false);
      offline(true);
      say("network");
    });
  }

  function hook(root) {
    root.querySelectorAll("form[data-keep]").forEach(function (form) {
      if (form.dataset.kept) return;
      form.dataset.kept = "1";
      restore(form);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.getAttribute("action") === "/logout") { clearAll(); return; }
    if (!form.hasAttribute("data-keep")) return;
    event.preventDefault();
    send(form, event.submitter);
  });

  // htmx forms (a check-in): the button is disabled by hx-disabled-elt; a lost
  // connection shows the banner and leaves what was typed in place.
  document.addEventListener("htmx:sendError", function () { offline(true); say("network"); });
  document.addEventListener("htmx:responseError", function (e) {
    if (e.detail && e.detail.xhr && e.detail.xhr.status >= 500) say("server");
  });
  // A fragment (the similar persons, a check-in) found the session ended: htmx is about
  // to leave for the sign-in page; the forms on this page are kept for the return.
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    var xhr = e.detail && e.detail.xhr;
    var to = xhr && xhr.getResponseHeader("HX-Redirect");
    if (to && to.indexOf("/login") === 0) {
      document.querySelectorAll("form[data-keep]").forEach(save);
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail && e.detail.successful) offline(false);
  });

  window.addEventListener("offline", function () { offline(true); });
  window.addEventListener("online", function () { offline(false); say(""); });

  function start() {
    if (!navigator.onLine) offline(true);
    hook(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
