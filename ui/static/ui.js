// Gantry UI: sorting and filtering without a reload, and auto-refresh.
// The pages work without it: headers are links, the filter is a form.
(function () {
  "use strict";

  function setParams(kv) {
    var u = new URL(location.href);
    Object.keys(kv).forEach(function (k) {
      if (kv[k] === "" || kv[k] == null) u.searchParams.delete(k); else u.searchParams.set(k, kv[k]);
    });
    history.replaceState(null, "", u.pathname + u.search);
  }

  function applyFilter() {
    var input = document.querySelector("[data-filter]");
    var table = document.querySelector("table[data-sortable]");
    if (!input || !table) return;
    var q = input.value.trim().toLowerCase(), shown = 0, rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var hit = !q || (rows[i].getAttribute("data-search") || "").indexOf(q) >= 0;
      rows[i].hidden = !hit;
      if (hit) shown++;
    }
    var count = document.querySelector("[data-count]");
    if (count && count.firstChild) {
      count.firstChild.nodeValue = count.firstChild.nodeValue.replace(/^\d+ of/, shown + " of");
    }
  }

  function sortTable(table, key, desc) {
    var ths = table.tHead.rows[0].cells, idx = -1, num = false;
    for (var i = 0; i < ths.length; i++) {
      var a = ths[i].querySelector("a[data-sort-key]");
      if (a && a.getAttribute("data-sort-key") === key) {
        idx = i; num = a.getAttribute("data-num") === "true";
        ths[i].setAttribute("aria-sort", desc ? "descending" : "ascending");
      } else {
        ths[i].removeAttribute("aria-sort");
      }
    }
    if (idx < 0) return;
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = r1.cells[idx].getAttribute("data-v") || "", b = r2.cells[idx].getAttribute("data-v") || "";
      if (num) {
        if (a === "" || b === "") return (a === "") - (b === ""); // no data last
        var d = parseFloat(a) - parseFloat(b);
        if (d !== 0) return desc ? -d : d;
        return r1.getAttribute("data-name").localeCompare(r2.getAttribute("data-name"));
      }
      var c = a.localeCompare(b);
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    var form = document.querySelector("[data-filter-form]");
    if (form) { form.elements.sort.value = key; form.elements.dir.value = desc ? "desc" : "asc"; }
    setParams({ sort: key, dir: desc ? "desc" : "asc" });
  }

  function wire() {
    var table = document.querySelector("table[data-sortable]");
    if (table) {
      table.tHead.addEventListener("click", function (e) {
        var a = e.target.closest("a[data-sort-key]");
        if (!a) return;
        e.preventDefault();
        var th = a.parentNode, cur = th.getAttribute("aria-sort");
        var desc = cur ? cur === "ascending" : a.getAttribute("data-num") === "true";
        sortTable(table, a.getAttribute("data-sort-key"), desc);
      });
    }
    var input = document.querySelector("[data-filter]");
    if (input) {
      input.addEventListener("input", function () { applyFilter(); setParams({ q: input.value.trim() }); });
      applyFilter();
    }
  }

  // Auto-refresh replaces the page's content in place, keeping focus, the
  // filter text and open <details>.
  var timer = null, busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var next = doc.getElementById("content"), main = document.getElementById("content");
      if (!next || !main) return;
      var active = document.activeElement && document.activeElement.id;
      var input = document.querySelector("[data-filter]"), q = input ? input.value : null;
      var open = [];
      main.querySelectorAll("details").forEach(function (d, i) { if (d.open) open.push(i); });
      main.innerHTML = next.innerHTML;
      var det = main.querySelectorAll("details");
      open.forEach(function (i) { if (det[i]) det[i].open = true; });
      var nin = document.querySelector("[data-filter]");
      if (nin && q !== null) nin.value = q;
      ["[data-updated]", "header.top nav"].forEach(function (sel) {
        var a = document.querySelector(sel), b = doc.querySelector(sel);
        if (a && b) a.innerHTML = b.innerHTML;
      });
      wire();
      if (active && document.getElementById(active)) document.getElementById(active).focus();
    }).catch(function () { /* keep the page as it is; the next tick retries */ }).finally(function () { busy = false; });
  }

  function setRefresh(sec) {
    if (timer) clearInterval(timer);
    timer = sec > 0 ? setInterval(refresh, sec * 1000) : null;
    try { localStorage.setItem("gantry.refresh", String(sec)); } catch (e) { /* private mode */ }
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire();
    var sel = document.querySelector("[data-refresh]");
    if (!sel) return;
    // 5 s by default, the step of the default range: a newcomer sees the
    // first requests without reloading.
    var saved = "5";
    try { saved = localStorage.getItem("gantry.refresh") || "5"; } catch (e) { /* private mode */ }
    sel.value = saved;
    if (sel.value !== saved) sel.value = "5";
    setRefresh(parseInt(sel.value, 10));
    sel.addEventListener("change", function () { setRefresh(parseInt(sel.value, 10)); });
  });
})();
