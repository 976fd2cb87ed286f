// Nothing typed is lost, nothing is sent twice (docs/web.md). The write forms marked
// data-keep are sent by the browser as usual, with the idempotency key the server put in
// them (sending one twice writes once); this script adds:
//
// - one submission at a time: a second tap while the first is in flight does nothing
//   and the buttons are disabled;
// - offline: the form is not sent, a banner says so, and what was typed stays in place;
// - a draft of what was typed, in sessionStorage (this tab only, gone when the tab
//   closes), written when a submission starts and deleted once it succeeded, on sign-out
//   and after 12 hours, restored only for the officer who typed it. When the submission
//   could not finish (the session expired, a stale form, a server error, the network
//   dropped) the officer is brought back to the form, filled again, and one press sends
//   it (with the same key: safe even if the first had in fact been saved).
(function () {
  "use strict";
  var PREFIX = "corridor:draft:";
  var MAX_AGE_MS = 12 * 3600 * 1000;
  var SKIP = { csrf_token: true };

  function user() { return document.body.dataset.user || ""; }
  function here() { return location.pathname + location.search; }

  function say(kind) {
    var el = document.getElementById("form-status");
    if (!el) return;
    if (kind) { el.textContent = el.dataset[kind] || ""; el.hidden = false; }
    else { el.hidden = true; }
  }
  function offline(on) {
    var el = document.getElementById("offline");
    if (el) el.hidden = !on;
  }

  function drafts() {
    var out = [];
    for (var i = 0; i < sessionStorage.length; i++) {
      var k = sessionStorage.key(i);
      if (k && k.indexOf(PREFIX) === 0) {
        try { out.push([k, JSON.parse(sessionStorage.getItem(k))]); }
        catch (e) { sessionStorage.removeItem(k); }
      }
    }
    return out;
  }
  function clearAll() { drafts().forEach(function (d) { sessionStorage.removeItem(d[0]); }); }

  function save(form, pending) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (!SKIP[name] && typeof value === "string") fields.push([name, value]);
    });
    try {
      sessionStorage.setItem(PREFIX + location.pathname, JSON.stringify({
        user: user(), page: here(), action: form.getAttribute("action"),
        at: Date.now(), pending: pending, fields: fields
      }));
    } catch (e) { /* storage full or off: the page still holds the values */ }
  }

  function fill(form, fields) {
    var seen = {};
    fields.forEach(function (pair) {
      var name = pair[0], value = pair[1];
      var els = form.querySelectorAll('[name="' + CSS.escape(name) + '"]');
      els.forEach(function (el) {
        if (el.type === "checkbox" || el.type === "radio") {
          if (!seen[name]) els.forEach(function (o) { o.checked = false; });
          if (el.value === value) el.checked = true;
        } else {
          el.value = value;
        }
      });
      seen[name] = true;
    });
    // Unticked boxes are not in a form's data: untick those the draft did not hold.
    form.querySelectorAll("input[type=checkbox]").forEach(function (el) {
      if (!seen[el.name]) el.checked = false;
    });
  }

  function restore(form, draft) {
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
  }

  function busy(form, on) {
    form.dataset.busy = on ? "1" : "";
    form.setAttribute("aria-busy", on ? "true" : "false");
    form.querySelectorAll("button, input[type=submit]").forEach(function (b) { b.disabled = on; });
  }

  // What the page that loaded says of the submission that led to it.
  function settle() {
    var errorStatus = parseInt(document.body.dataset.errorStatus || "0", 10);
    var errorCode = document.body.dataset.errorCode || "";
    var entry = (performance.getEntriesByType("navigation") || [])[0];
    var nav = entry ? entry.type : "navigate";
    drafts().forEach(function (item) {
      var key = item[0], draft = item[1];
      if (draft.user && user() && draft.user !== user()) { sessionStorage.removeItem(key); return; }
      if (Date.now() - draft.at > MAX_AGE_MS) { sessionStorage.removeItem(key); return; }
      if (location.pathname === "/login") {
        // Signed out meanwhile: after signing in, back to the form and its draft.
        if (draft.pending) {
          draft.pending = false;
          sessionStorage.setItem(key, JSON.stringify(draft));
        }
        document.querySelectorAll(
          'form[action="/login"] input[name="next"], form[action="/login/code"] input[name="next"]'
        ).forEach(function (next) {
          if (next.value === "/" || next.value === "") next.value = draft.page;
        });
        return;
      }
      if (!draft.pending) return;
      draft.pending = false;
      if (nav === "back_forward" || nav === "reload") {
        // Back from the browser's own error page: the submission never arrived here.
        draft.retry = "network";
        sessionStorage.setItem(key, JSON.stringify(draft));
        return;
      }
      if (errorStatus >= 500 || errorCode === "stale_form") {
        // The form again, fresh (a new CSRF token), filled from the draft.
        draft.retry = errorStatus >= 500 ? "server" : "restored";
        sessionStorage.setItem(key, JSON.stringify(draft));
        location.replace(draft.page);
        return;
      }
      // Done (the page it led to is showing), or refused with its reasons shown on the
      // server's page, which holds what was typed: the draft has served either way.
      sessionStorage.removeItem(key);
    });
    document.querySelectorAll("form[data-keep]").forEach(function (form) {
      var raw = sessionStorage.getItem(PREFIX + location.pathname);
      if (!raw) return;
      var draft = JSON.parse(raw);
      if (draft.pending || draft.action !== form.getAttribute("action")) return;
      if (draft.user !== user()) return;
      restore(form, draft);
      say(draft.retry || "restored");
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.getAttribute("action") === "/logout") { clearAll(); return; }
    if (!form.hasAttribute("data-keep")) return;
    if (form.dataset.busy === "1") { event.preventDefault(); return; }  // a second tap
    if (!navigator.onLine) {
      event.preventDefault();
      offline(true);
      say("network");
      return;
    }
    save(form, true);
    // Disabled once the browser has taken the form's data (a disabled button sends none).
    setTimeout(function () { busy(form, true); }, 0);
  });

  // Back from the browser's own error page, from its cache of pages: the form is as it
  // was, its buttons enabled again; say that it was not sent.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-keep]").forEach(function (form) {
      if (form.dataset.busy === "1") { busy(form, false); say("network"); }
    });
  });

  // htmx fragments (the similar persons while typing, a check-in).
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    var xhr = e.detail && e.detail.xhr;
    var to = xhr && xhr.getResponseHeader("HX-Redirect");
    if (to && to.indexOf("/login") === 0) {
      // The session ended: htmx leaves for the sign-in page; keep this page's form.
      document.querySelectorAll("form[data-keep]").forEach(function (f) { save(f, false); });
    }
  });
  document.addEventListener("htmx:sendError", function () { offline(true); say("network"); });
  document.addEventListener("htmx:responseError", function (e) {
    if (e.detail && e.detail.xhr && e.detail.xhr.status >= 500) say("server");
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail && e.detail.successful) offline(false);
  });

  window.addEventListener("offline", function () { offline(true); });
  window.addEventListener("online", function () { offline(false); say(""); });

  // Keyboard entry on the forms marked data-keyboard (docs/web.md, "Registration by
  // keyboard"): the first field (or the error summary, or "Register the next") has the
  // focus when the page opens; Enter moves to the next field and submits only from the
  // last one; after a person's age it moves to the next person (the other details are
  // reached by Tab); Ctrl+Enter submits from anywhere; "Add a member" puts the focus in the new
  // member's first field; a link of the error summary puts it in its field.
  var CONTROLS = "input:not([type=hidden]):not([disabled]), select:not([disabled]), " +
    "textarea:not([disabled]), button:not([disabled])";

  function shown(el) { return el.getClientRects().length > 0; }  // not in a closed <details>
  function controls(root) {
    return Array.prototype.filter.call(root.querySelectorAll(CONTROLS), shown);
  }
  function firstField(root) {
    return controls(root).filter(function (el) { return el.tagName !== "BUTTON"; })[0];
  }
  function focusOpening() {
    var target = document.querySelector("[data-focus]");
    if (!target) {
      var form = document.querySelector("form[data-keyboard]");
      target = form && firstField(form);
    }
    if (target) target.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.altKey || event.shiftKey) return;
    var el = event.target;
    var form = el && el.closest ? el.closest("form[data-keyboard]") : null;
    if (!form) return;
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    // Buttons, links, a <summary> and text areas keep what Enter does to them.
    if (["INPUT", "SELECT"].indexOf(el.tagName) < 0) return;
    if (el.type === "submit" || el.type === "button") return;
    event.preventDefault();
    var all = controls(form);
    var next = all[all.indexOf(el) + 1];
    if (el.dataset.enter === "next-person" && el.closest("fieldset")) {
      // After the age: the next person's first field (the other details by Tab).
      var person = el.closest("fieldset");
      next = all.filter(function (c) {
        return !person.contains(c) &&
          (person.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
      })[0];
    }
    if (!next || next.type === "submit") { form.requestSubmit(); return; }
    next.focus();
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("#error-summary a[data-field]") : null;
    if (!link) return;
    var field = document.getElementById(link.dataset.field);
    if (!field) return;
    event.preventDefault();
    var details = field.closest("details");
    if (details) details.open = true;
    field.scrollIntoView({ block: "center" });
    field.focus();
  });

  // A new member's row: the focus goes to its first field (the row is added where the
  // focus goes: just above the button that added it).
  document.addEventListener("htmx:afterSettle", function (event) {
    var path = event.detail && event.detail.pathInfo && event.detail.pathInfo.requestPath;
    var members = document.getElementById("members");
    if (!members || !path || path.indexOf("/register/member") !== 0) return;
    // After htmx has put the focus back on the (replaced) button.
    setTimeout(function () {
      var rows = members.querySelectorAll(":scope > fieldset");
      var row = rows[rows.length - 1];
      var field = row && firstField(row);
      if (field) field.focus();
    }, 0);
  });

  // MUAC's colour band, as it is typed.
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (!el.dataset || !el.dataset.muac) return;
    var out = document.getElementById(el.dataset.muac);
    if (!out) return;
    var mm = parseInt(el.value, 10);
    var band = isNaN(mm) || mm <= 0 ? "" : mm < 115 ? "red" : mm < 125 ? "yellow" : "green";
    out.textContent = band ? out.dataset[band] : "";
    out.className = "muac-band" + (band ? " band-" + band : "");
  });

  function start() {
    if (!navigator.onLine) offline(true);
    settle();
    focusOpening();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
