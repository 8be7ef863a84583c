/* docgap report: worklist (paged, filtered, sorted in memory) and note view (drawn on demand).
   Note data is untrusted: it only ever reaches the page through textContent and text nodes. */
(function () {
  "use strict";

  var doc = document;
  function byId(id) { return doc.getElementById(id); }
  function readJson(id) { return JSON.parse(byId(id).textContent); }

  /* el("td", {cls: "x", text: "y", title: "z"}, [children]) */
  function el(tag, attrs, children) {
    var node = doc.createElement(tag);
    var key, value;
    for (key in attrs || {}) {
      value = attrs[key];
      if (value === null || value === undefined || value === false) { continue; }
      if (key === "text") { node.textContent = String(value); }
      else if (key === "cls") { node.className = value; }
      else { node.setAttribute(key, value === true ? "" : String(value)); }
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? doc.createTextNode(child) : child);
    });
    return node;
  }
  function human(key) { return String(key || "").replace(/_/g, " "); }

  var cfg = readJson("docgap-config");
  var rows = readJson("docgap-rows");
  var notes = null; /* the per-note blob is parsed the first time a note is opened */
  var strings = cfg.strings;
  function str(ref) { return ref === null ? null : strings[ref]; }
  /* Notes carry repeated strings as indices into cfg.strings: expand one when it is opened. */
  function expand(n) {
    n.evidence = n.evidence.map(function (row) {
      var ev = {};
      cfg.evidenceKeys.forEach(function (key, j) {
        ev[key] = key === "text" || key === "counted" ? row[j] : str(row[j]);
      });
      return ev;
    });
    n.elements = n.elements.map(function (e) { return [str(e[0]), !!e[1]]; });
    n.gaps = n.gaps.map(function (g) { return { key: str(g[0]), message: str(g[1]), severity: str(g[2]) }; });
    n.queries.forEach(function (q) { q.text = q.lines.map(str).join("\n"); });
    n.expanded = true;
    return n;
  }
  function noteData(i) {
    if (notes === null) { notes = readJson("docgap-notes"); }
    var n = notes[i];
    return n && !n.expanded ? expand(n) : n;
  }
  var colour = {};
  cfg.elements.forEach(function (key, i) { colour[key] = i % 12; });
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  var state = {
    q: "", status: "", gap: "", meta: {}, scoreMin: null, scoreMax: null, review: false,
    sort: "default", dir: 1, page: 0, size: cfg.pageSize, current: -1
  };
  var view = [];
  var metaKeys = cfg.metaColumns || []; /* the meta columns (filters are .f-meta selects) */
  var hasScore = !!byId("f-score-min");
  var hasReview = !!byId("f-review");

  /* ------------------------------------------------------------------ worklist */
  function matches(r) {
    if (state.status && r.status !== state.status && r.group !== state.status) { return false; }
    if (state.gap && r.gaps.indexOf(state.gap) < 0) { return false; }
    if (state.q && r.id.toLowerCase().indexOf(state.q) < 0) { return false; }
    if (state.review && !r.review) { return false; }
    if (state.scoreMin !== null && !(r.score !== null && r.score >= state.scoreMin)) { return false; }
    if (state.scoreMax !== null && !(r.score !== null && r.score <= state.scoreMax)) { return false; }
    for (var k in state.meta) {
      if (state.meta[k] && r.meta[k] !== state.meta[k]) { return false; }
    }
    return true;
  }

  function num(v, missing) { return v === null || v === undefined ? missing : v; }

  function compare(a, b) {
    var d = 0;
    var key = state.sort;
    if (key === "default") {
      return a.rank - b.rank || (b.review ? 1 : 0) - (a.review ? 1 : 0) || a.i - b.i;
    }
    if (key === "id") { d = collator.compare(a.id, b.id); }
    else if (key === "status") { d = a.rank - b.rank; }
    else if (key === "code") { d = collator.compare(a.code || "", b.code || ""); }
    else if (key === "gaps") { d = a.gaps.length - b.gaps.length; }
    else if (key === "found") { d = a.found - b.found; }
    else if (key === "score") { d = num(a.score, -1) - num(b.score, -1); }
    else if (key === "review") { d = (a.review ? 1 : 0) - (b.review ? 1 : 0); }
    else if (key === "nq") { d = a.nq - b.nq; }
    else if (key.indexOf("meta:") === 0) {
      var m = key.slice(5);
      d = collator.compare(a.meta[m] || "", b.meta[m] || "");
    }
    return d * state.dir || a.i - b.i;
  }

  function apply(keepPage) {
    view = rows.filter(matches);
    view.sort(compare);
    if (!keepPage) { state.page = 0; }
    var pages = Math.max(1, Math.ceil(view.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    drawRows();
    markSort();
  }

  function badge(status, label) {
    return el("span", { cls: "badge s-" + status, text: label || cfg.statusLabels[status] || human(status) });
  }

  function rowElement(r) {
    var status = [badge(r.status)];
    if (r.group === "query_opportunity") { status.push(" ", badge("query_opportunity", "query")); }
    /* Score and Review right after Status: a long id (a file path) or many meta columns
       must not push what the reviewer sorts by off-screen. */
    var cells = [
      el("td", { cls: "id", title: r.id }, [el("a", { cls: "id-text", href: "#n=" + r.i, text: r.id })]),
      el("td", {}, status)
    ];
    if (hasScore) { cells.push(el("td", { cls: "num", text: r.score === null ? "" : r.score.toFixed(2) })); }
    if (hasReview) {
      cells.push(el("td", {}, r.review ? [el("span", { cls: "flag", title: "flagged for review", text: "\u2691 review" })] : []));
    }
    cells.push(el("td", { text: r.code || "" }));
    cells.push(el("td", { cls: "gaps", text: r.gaps.map(human).join(", ") }));
    cells.push(el("td", { cls: "num", text: String(r.found) }));
    metaKeys.forEach(function (k) { cells.push(el("td", { cls: "meta", title: r.meta[k] || null, text: r.meta[k] || "" })); });
    cells.push(el("td", { cls: "num", text: r.nq ? String(r.nq) : "" }));
    return el("tr", {
      "data-i": r.i, "data-status": r.status, "data-group": r.group, tabindex: 0,
      cls: r.i === state.current ? "current" : null
    }, cells);
  }

  function drawRows() {
    var start = state.page * state.size;
    var page = view.slice(start, start + state.size);
    var frag = doc.createDocumentFragment();
    page.forEach(function (r) { frag.appendChild(rowElement(r)); });
    byId("rows").replaceChildren(frag);
    var pages = Math.max(1, Math.ceil(view.length / state.size));
    byId("p-info").textContent = "Page " + (state.page + 1) + " of " + pages;
    byId("count").textContent = view.length
      ? "Rows " + (start + 1) + "\u2013" + (start + page.length) + " of " + view.length +
        (view.length !== rows.length ? " (filtered from " + rows.length + ")" : "")
      : "No note matches these filters (" + rows.length + " in the report).";
    byId("p-first").disabled = byId("p-prev").disabled = state.page === 0;
    byId("p-next").disabled = byId("p-last").disabled = state.page >= pages - 1;
    navButtons();
  }

  function markSort() {
    doc.querySelectorAll("button.sort").forEach(function (b) {
      var on = b.getAttribute("data-sort") === state.sort;
      if (on) { b.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending"); }
      else { b.removeAttribute("aria-sort"); }
    });
    doc.querySelectorAll("#status-chart .bar").forEach(function (g) {
      g.classList.toggle("active", g.getAttribute("data-status") === state.status);
    });
  }

  function setStatus(value) {
    state.status = value;
    byId("f-status").value = value;
    apply();
  }
  function setGap(value) {
    state.gap = value;
    byId("f-gap").value = value;
    apply();
  }
  function readNumber(id) {
    var v = byId(id).value;
    return v === "" || isNaN(Number(v)) ? null : Number(v);
  }

  var searchTimer = null;
  byId("f-search").addEventListener("input", function (e) {
    clearTimeout(searchTimer);
    var value = e.target.value.trim().toLowerCase();
    searchTimer = setTimeout(function () { state.q = value; apply(); }, 120);
  });
  byId("f-status").addEventListener("change", function (e) { setStatus(e.target.value); });
  byId("f-gap").addEventListener("change", function (e) { setGap(e.target.value); });
  doc.querySelectorAll(".f-meta").forEach(function (s) {
    s.addEventListener("change", function () { state.meta[s.getAttribute("data-key")] = s.value; apply(); });
  });
  if (hasScore) {
    ["f-score-min", "f-score-max"].forEach(function (id) {
      byId(id).addEventListener("input", function () {
        state.scoreMin = readNumber("f-score-min");
        state.scoreMax = readNumber("f-score-max");
        apply();
      });
    });
  }
  if (hasReview) {
    byId("f-review").addEventListener("change", function (e) { state.review = e.target.checked; apply(); });
  }
  byId("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  byId("filters").addEventListener("reset", function () {
    setTimeout(function () {
      state.q = ""; state.status = ""; state.gap = ""; state.meta = {};
      state.scoreMin = state.scoreMax = null; state.review = false;
      state.sort = "default"; state.dir = 1;
      apply();
    }, 0);
  });
  doc.querySelectorAll("button.sort").forEach(function (b) {
    b.addEventListener("click", function () {
      var key = b.getAttribute("data-sort");
      if (state.sort === key) { state.dir = -state.dir; }
      else { state.sort = key; state.dir = key === "score" || key === "review" || key === "nq" ? -1 : 1; }
      apply();
    });
  });
  byId("p-first").addEventListener("click", function () { state.page = 0; drawRows(); });
  byId("p-prev").addEventListener("click", function () { state.page -= 1; drawRows(); });
  byId("p-next").addEventListener("click", function () { state.page += 1; drawRows(); });
  byId("p-last").addEventListener("click", function () {
    state.page = Math.max(0, Math.ceil(view.length / state.size) - 1);
    drawRows();
  });
  byId("p-size").addEventListener("change", function (e) { state.size = Number(e.target.value); apply(); });
  byId("rows").addEventListener("click", function (e) {
    var tr = e.target.closest("tr[data-i]");
    if (tr && !e.target.closest("a")) { location.hash = "n=" + tr.getAttribute("data-i"); }
  });
  byId("rows").addEventListener("keydown", function (e) {
    var tr = e.target.closest("tr[data-i]");
    if (tr && e.key === "Enter") { location.hash = "n=" + tr.getAttribute("data-i"); }
  });
  doc.querySelectorAll("#status-chart .bar.clickable").forEach(function (g) {
    function pick() { setStatus(state.status === g.getAttribute("data-status") ? "" : g.getAttribute("data-status")); }
    g.addEventListener("click", pick);
    g.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
  });
  doc.querySelectorAll(".gap-filter").forEach(function (b) {
    b.addEventListener("click", function () { setGap(b.getAttribute("data-gap")); byId("worklist").scrollIntoView(); });
  });

  /* ------------------------------------------------------------------ note view */
  function section(title, children) {
    return [el("h3", { text: title })].concat(children);
  }

  function evidenceTitle(ev) {
    var parts = [human(ev.element) + ": \u201c" + ev.text + "\u201d", ev.assertion];
    parts.push(ev.counted ? "counted" : "not counted" + (ev.reason ? " (" + ev.reason + ")" : ""));
    parts.push("section: " + (ev.section ? human(ev.section) : "none"));
    return parts.join(" \u00b7 ");
  }

  function markClasses(ev) {
    var cls = "ev c" + (colour[ev.element] === undefined ? 9 : colour[ev.element]);
    if (!ev.counted) { cls += " nc"; }
    if (ev.assertion && ev.assertion !== "affirmed") { cls += " a-" + ev.assertion; }
    return cls;
  }

  var firstMark = {}; /* evidence id -> its first highlighted piece in the open note */
  function noteText(n) {
    var pre = el("pre", { cls: "note-text", id: "note-text" });
    var first = firstMark = {};
    n.segments.forEach(function (seg) {
      var piece = seg[0], ids = seg[1];
      if (!ids.length) { pre.appendChild(doc.createTextNode(piece)); return; }
      var top = n.evidence[ids[0]];
      var mark = el("mark", {
        cls: markClasses(top),
        "data-ev": ids.join(" "),
        "data-element": top.element,
        "data-assertion": top.assertion,
        title: ids.map(function (i) { return evidenceTitle(n.evidence[i]); }).join("\n"),
        text: piece
      });
      ids.forEach(function (i) { if (!(i in first)) { first[i] = mark; } });
      pre.appendChild(mark);
    });
    return pre;
  }

  function evidenceTable(n) {
    var body = el("tbody");
    n.evidence.forEach(function (ev, i) {
      body.appendChild(el("tr", { "data-ev": i, title: ev.rule || "" }, [
        el("td", { text: human(ev.element) }),
        el("td", {}, [el("mark", { cls: markClasses(ev), text: ev.text })]),
        el("td", { text: ev.section ? human(ev.section) : "" }),
        el("td", { text: ev.assertion || "" }),
        el("td", { text: ev.counted ? "yes" : "no" + (ev.reason ? ": " + ev.reason : "") })
      ]));
    });
    body.addEventListener("click", function (e) {
      var tr = e.target.closest("tr[data-ev]");
      var mark = tr && firstMark[tr.getAttribute("data-ev")];
      if (!mark) { return; }
      mark.scrollIntoView({ block: "center" });
      mark.classList.add("flash");
      setTimeout(function () { mark.classList.remove("flash"); }, 1200);
    });
    return el("table", { cls: "evidence-table" }, [
      el("thead", {}, [el("tr", {}, ["Element", "Text", "Section", "Assertion", "Counted"].map(function (h) {
        return el("th", { scope: "col", text: h });
      }))]),
      body
    ]);
  }

  function copyText(text, button) {
    function done(ok) {
      button.textContent = ok ? "Copied" : "Select and copy";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      return;
    }
    var area = el("textarea", { readonly: true });
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    doc.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = doc.execCommand("copy"); } catch (err) { ok = false; }
    doc.body.removeChild(area);
    done(ok);
  }

  function queryBlock(q) {
    var button = el("button", { type: "button", text: "Copy" });
    button.addEventListener("click", function () { copyText(q.text, button); });
    return el("article", { cls: "query", "data-key": q.key }, [
      el("h4", {}, [el("span", { text: "Draft for: " + human(q.gap) }), button]),
      el("pre", { text: q.text })
    ]);
  }

  function codeText(code) {
    var description = cfg.codes[code];
    return code + (description ? " \u2014 " + description : "");
  }

  function facts(n) {
    var items = [
      ["Status", [badge(n.status || "error")].concat(n.query_opportunity ? [" ", badge("query_opportunity")] : [])],
      ["Would code", n.would_code ? codeText(n.would_code) : "none"],
      ["Checked against", n.code ? codeText(n.code) : ""],
      ["Chiropractic encounter", n.chiropractic ? "yes" : "no"]
    ];
    if (n.score !== null) { items.push(["Score", n.score.toFixed(3)]); }
    if (n.review !== null) { items.push(["Review", n.review ? "flagged for review" : "not flagged"]); }
    Object.keys(n.meta || {}).forEach(function (k) {
      var v = n.meta[k];
      items.push([human(k), typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]);
    });
    var dl = el("dl", { cls: "facts" });
    items.forEach(function (item) {
      dl.appendChild(el("dt", { text: item[0] }));
      dl.appendChild(el("dd", {}, typeof item[1] === "string" ? [item[1]] : item[1]));
    });
    return dl;
  }

  function showNote(i) {
    var n = noteData(i);
    var body = byId("note-body");
    if (!n) { return; }
    firstMark = {};
    state.current = i;
    var parts = [el("div", { cls: "note-head" }, [el("h3", { id: "note-id", text: n.id }), facts(n)])];
    if (n.error) { parts.push(el("p", { cls: "error-box", text: "Not analysed: " + n.error })); }
    if (n.warnings.length) {
      parts = parts.concat(section("Warnings", [el("ul", {}, n.warnings.map(function (w) { return el("li", { text: w }); }))]));
    }
    if (n.elements.length) {
      parts = parts.concat(section("Elements", [el("ul", { cls: "checklist" }, n.elements.map(function (e) {
        var key = e[0], found = e[1];
        return el("li", { cls: found ? "found" : "missing", "data-element": key, title: cfg.elementInfo[key] || human(key) }, [
          el("span", { cls: "mark", text: found ? "\u2713" : "\u2717" }),
          human(key) + (found ? "" : " (missing)")
        ]);
      }))]));
    }
    if (n.gaps.length) {
      parts = parts.concat(section("Gaps", [el("ul", { cls: "gap-list" }, n.gaps.map(function (g) {
        return el("li", { "data-gap": g.key }, [el("span", { cls: "sev sev-" + (g.severity || "none"), text: g.severity || "" }), " ", g.message || human(g.key)]);
      }))]));
    }
    var textPart = [byId("legend-template").content.cloneNode(true)];
    if (n.segments) {
      textPart.push(noteText(n));
      if (n.mismatched.length) {
        textPart.push(el("p", { cls: "muted", text: n.mismatched.length + " mention(s) could not be placed: the note text differs from the one scanned." }));
      }
    } else {
      textPart.push(el("p", { cls: "muted", text: "The note text is not in this report (build it with the notes' text to see them highlighted); the evidence below shows what was found." }));
    }
    parts = parts.concat(section("Note text", textPart));
    if (n.queries.length) {
      parts = parts.concat(section("Query drafts", [el("p", { cls: "muted", text: "Drafts for a CDI specialist to review before sending; they cite only what the record says." })].concat(n.queries.map(queryBlock))));
    }
    if (n.evidence.length) { parts = parts.concat(section("Evidence", [evidenceTable(n)])); }
    if (Object.keys(n.extra).length) {
      parts = parts.concat(section("Other fields", [el("pre", { cls: "extra", text: JSON.stringify(n.extra, null, 2) })]));
    }
    body.replaceChildren.apply(body, parts);
    doc.querySelectorAll("#rows tr.current").forEach(function (tr) { tr.classList.remove("current"); });
    var tr = doc.querySelector('#rows tr[data-i="' + i + '"]');
    if (tr) { tr.classList.add("current"); }
    navButtons();
  }

  function position() {
    for (var k = 0; k < view.length; k += 1) { if (view[k].i === state.current) { return k; } }
    return -1;
  }
  function navButtons() {
    var k = position();
    byId("n-prev").disabled = k <= 0;
    byId("n-next").disabled = k < 0 || k >= view.length - 1;
  }
  function step(delta) {
    var k = position() + delta;
    if (k < 0 || k >= view.length) { return; }
    var target = Math.floor(k / state.size);
    if (target !== state.page) { state.page = target; drawRows(); }
    location.hash = "n=" + view[k].i;
  }
  byId("n-prev").addEventListener("click", function () { step(-1); });
  byId("n-next").addEventListener("click", function () { step(1); });

  function route() {
    var m = /^#n=(\d+)$/.exec(location.hash);
    if (m && Number(m[1]) < rows.length) {
      showNote(Number(m[1]));
      if (window.innerWidth < 1300) { byId("note").scrollIntoView(); }
    }
  }
  window.addEventListener("hashchange", route);

  apply();
  route();
  doc.documentElement.setAttribute("data-ready", "1");
})();
