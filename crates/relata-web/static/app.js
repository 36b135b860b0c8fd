// Relata's own script: progressive enhancement only. Every page works without it; with it,
// search answers while typing, lookups suggest records, fields edit in place, and the
// keyboard drives the lists. No framework, no build step.
(function () {
  "use strict";

  function debounce(fn, ms) {
    var t;
    return function () {
      var args = arguments, self = this;
      clearTimeout(t);
      t = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text; // never innerHTML: data stays data
    return e;
  }

  function getJSON(url, done) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) done(data); })
      .catch(function () { /* the form still works by submitting */ });
  }

  // A list of choices under an input, driven by arrow keys, Enter and Escape.
  function Choices(input, box, pick) {
    var items = [], at = -1;
    function mark() {
      items.forEach(function (a, i) { a.setAttribute("aria-selected", i === at ? "true" : "false"); });
      if (items[at]) items[at].scrollIntoView({ block: "nearest" });
    }
    this.show = function (nodes) {
      box.textContent = "";
      nodes.forEach(function (n) { box.appendChild(n); });
      items = Array.prototype.slice.call(box.querySelectorAll("a"));
      at = -1;
      box.hidden = items.length === 0 && nodes.length === 0;
      input.setAttribute("aria-expanded", box.hidden ? "false" : "true");
    };
    this.hide = function () { box.hidden = true; input.setAttribute("aria-expanded", "false"); };
    var self = this;
    input.addEventListener("keydown", function (e) {
      if (box.hidden) return;
      if (e.key === "ArrowDown") { at = Math.min(at + 1, items.length - 1); mark(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { at = Math.max(at - 1, 0); mark(); e.preventDefault(); }
      else if (e.key === "Enter" && items[at]) { e.preventDefault(); pick(items[at]); self.hide(); }
      else if (e.key === "Escape") { self.hide(); }
    });
    input.addEventListener("blur", function () { setTimeout(self.hide, 200); });
  }

  // Global search: results grouped by object while typing.
  function instantSearch() {
    var input = document.getElementById("global-search");
    var box = document.getElementById("instant-results");
    if (!input || !box) return;
    var choices = new Choices(input, box, function (a) { location.href = a.getAttribute("href"); });
    var last = "";
    input.addEventListener("input", debounce(function () {
      var q = input.value.trim();
      if (q === last) return;
      last = q;
      if (q.length < 2) { choices.hide(); return; }
      getJSON(input.getAttribute("data-instant") + "?q=" + encodeURIComponent(q), function (groups) {
        if (input.value.trim() !== q) return;
        var nodes = [];
        groups.forEach(function (g) {
          nodes.push(el("h3", {}, g.label));
          g.hits.forEach(function (h) {
            var a = el("a", { href: h.href, role: "option" }, h.name || "—");
            if (h.detail) a.appendChild(el("span", { "class": "meta" }, " " + h.detail));
            nodes.push(a);
          });
        });
        if (!groups.length) nodes.push(el("p", { "class": "meta" }, "…"));
        choices.show(nodes);
      });
    }, 150));
  }

  // Lookup fields: suggestions from the target object; choosing fills the hidden id.
  function lookups(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".lookup"), function (span) {
      var hidden = span.querySelector("input[type=hidden]");
      var input = span.querySelector("input:not([type=hidden])");
      if (!hidden || !input || span.getAttribute("data-ready")) return;
      span.setAttribute("data-ready", "1");
      var box = el("div", { "class": "instant", role: "listbox" });
      box.hidden = true;
      span.appendChild(box);
      var choices = new Choices(input, box, function (a) {
        hidden.value = a.getAttribute("data-id");
        input.value = a.getAttribute("data-name");
      });
      input.addEventListener("input", debounce(function () {
        var q = input.value.trim();
        hidden.value = "";
        if (q.length < 1) { choices.hide(); return; }
        getJSON(span.getAttribute("data-lookup") + "?q=" + encodeURIComponent(q), function (list) {
          if (input.value.trim() !== q) return;
          choices.show(list.map(function (c) {
            var a = el("a", { href: "#", role: "option", "data-id": c.id, "data-name": c.name }, c.name);
            if (c.detail) a.appendChild(el("span", { "class": "meta" }, " " + c.detail));
            a.addEventListener("mousedown", function (e) {
              e.preventDefault();
              hidden.value = c.id;
              input.value = c.name;
              choices.hide();
            });
            return a;
          }));
        });
      }, 150));
    });
  }

  // Inline editing on the record page: the pencil opens the field's own small form.
  function inlineEdit() {
    document.addEventListener("click", function (e) {
      var open = e.target.closest && e.target.closest("[data-inline]");
      if (open) {
        e.preventDefault();
        var detail = open.closest(".detail");
        detail.classList.add("editing");
        var first = detail.querySelector(".inline-form input:not([type=hidden]), .inline-form select, .inline-form textarea");
        if (first) first.focus();
        return;
      }
      var cancel = e.target.closest && e.target.closest("[data-inline-cancel]");
      if (cancel) {
        e.preventDefault();
        var d = cancel.closest(".detail");
        d.classList.remove("editing");
        var pencil = d.querySelector("[data-inline]");
        if (pencil) pencil.focus();
      }
    });
  }

  function confirms() {
    document.addEventListener("submit", function (e) {
      var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
      if (msg && !window.confirm(msg)) e.preventDefault();
    });
  }

  // Keyboard: "/" search, "c" create, "j"/"k" move through a list, Enter opens the row.
  function shortcuts() {
    var row = -1;
    function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-list] tbody tr")); }
    function select(i) {
      var all = rows();
      if (!all.length) return;
      row = Math.max(0, Math.min(i, all.length - 1));
      all.forEach(function (r, n) { r.classList.toggle("current", n === row); });
      var link = all[row].querySelector("td a");
      if (link) link.focus();
    }
    document.addEventListener("keydown", function (e) {
      var t = e.target;
      var typing = t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName);
      if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "/") {
        var s = document.getElementById("global-search");
        if (s) { e.preventDefault(); s.focus(); }
      } else if (e.key === "c") {
        var menu = document.querySelector(".create-menu");
        if (menu) {
          e.preventDefault();
          menu.open = true;
          var first = menu.querySelector("a");
          if (first) first.focus();
        }
      } else if (e.key === "j") { select(row + 1); }
      else if (e.key === "k") { select(row - 1); }
    });
  }

  // Kanban: drag a card to another column. The card's own move form (which works without
  // script) is posted; the board is then read again for the new counts and totals.
  function board() {
    var root = document.querySelector("[data-board]");
    if (!root) return;
    var dragged = null;
    function refresh(message) {
      fetch(location.href, { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-board]");
          var current = document.querySelector("[data-board]");
          if (fresh && current) { current.replaceWith(fresh); board(); }
          var err = document.getElementById("board-error");
          if (err) { err.hidden = !message; err.textContent = message || ""; }
        });
    }
    root.addEventListener("dragstart", function (e) {
      var card = e.target.closest && e.target.closest(".card-item");
      if (!card) return;
      dragged = card;
      card.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
    });
    root.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      Array.prototype.forEach.call(root.querySelectorAll(".drop-target"), function (c) { c.classList.remove("drop-target"); });
    });
    root.addEventListener("dragover", function (e) {
      var col = e.target.closest && e.target.closest(".column");
      if (!col || !dragged) return;
      e.preventDefault();
      col.classList.add("drop-target");
    });
    root.addEventListener("dragleave", function (e) {
      var col = e.target.closest && e.target.closest(".column");
      if (col && !col.contains(e.relatedTarget)) col.classList.remove("drop-target");
    });
    root.addEventListener("drop", function (e) {
      var col = e.target.closest && e.target.closest(".column");
      if (!col || !dragged) return;
      e.preventDefault();
      col.classList.remove("drop-target");
      var card = dragged;
      dragged = null;
      var from = card.closest(".column");
      if (from === col) return;
      col.querySelector(".cards").prepend(card); // at once; the server confirms below
      var form = card.querySelector("form.move");
      form.querySelector("select").value = col.getAttribute("data-value");
      fetch(form.getAttribute("action"), {
        method: "POST",
        credentials: "same-origin",
        redirect: "manual",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(new FormData(form)).toString()
      }).then(function (r) {
        // refused for what the move asks (a stage's required fields): post the form
        // itself, whose answer is the record's form with each missing field marked
        if (r.status === 422) { form.submit(); return; }
        var moved = r.type === "opaqueredirect" || r.status === 303 || r.ok;
        refresh(moved ? "" : root.getAttribute("data-error"));
      }).catch(function () { refresh(root.getAttribute("data-error")); });
    });
  }

  // An import job's page while it runs: the page is read again every second and a half and
  // its progress swapped in, until the job settles (without script, a <meta refresh> does it).
  function importProgress() {
    if (!document.querySelector("[data-import][data-running]")) return;
    var timer = setInterval(function () {
      fetch(location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-import]");
          var current = document.querySelector("[data-import]");
          if (!fresh || !current) return;
          current.replaceWith(fresh);
          if (!fresh.hasAttribute("data-running")) clearInterval(timer);
        })
        .catch(function () { /* the next tick tries again */ });
    }, 1500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    board();
    instantSearch();
    lookups(document);
    inlineEdit();
    confirms();
    shortcuts();
    importProgress();
  });
})();
