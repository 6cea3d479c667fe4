/* trollscope's page script: view switching (report), paged and filterable tables, the network graph
   (sigma.js + graphology, with a 2D-canvas fallback), and search. Data comes from the page's tables
   and from <script type="application/json"> blocks; it is only ever written with textContent. */
(function () {
  "use strict";
  var MODE = document.body.getAttribute("data-mode");
  var PAGE = 50;
  var tables = {};
  var graphs = {};

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(n) { return typeof n === "number" ? n.toLocaleString("en-US", { maximumFractionDigits: 2 }) : String(n); }

  /* ---------- paged, filterable tables ---------- */
  function setupTable(table) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var st = { table: table, body: body, rows: rows, matched: rows, page: 0, text: null, pair: null };
    tables[table.id] = st;
    document.querySelectorAll("[data-filter-for]").forEach(function (input) {
      if (input.getAttribute("data-filter-for") !== table.id) return;
      st.input = input;
      var timer;
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { st.pair = null; filterTable(st, input.value); }, 120);
      });
    });
    document.querySelectorAll("[data-pager-for]").forEach(function (p) {
      if (p.getAttribute("data-pager-for") === table.id) st.pager = p;
    });
    renderTable(st);
  }
  function rowText(r) {
    if (r._t === undefined) r._t = r.textContent.toLowerCase();
    return r._t;
  }
  function filterTable(st, q) {
    q = (q || "").trim().toLowerCase();
    st.matched = st.rows.filter(function (r) {
      if (st.pair) {
        var p = r.getAttribute("data-pair");
        if (p !== st.pair[0] + "|" + st.pair[1] && p !== st.pair[1] + "|" + st.pair[0]) return false;
      }
      return !q || rowText(r).indexOf(q) >= 0;
    });
    st.page = 0;
    renderTable(st);
  }
  function renderTable(st) {
    var start = st.page * PAGE;
    var shown = st.matched.slice(start, start + PAGE);
    st.body.replaceChildren.apply(st.body, shown);
    if (!st.pager) return;
    st.pager.replaceChildren();
    var total = st.matched.length;
    var label = total === 0 ? "no rows match" :
      "rows " + fmt(start + 1) + "–" + fmt(start + shown.length) + " of " + fmt(total) +
      (total !== st.rows.length ? " matching (of " + fmt(st.rows.length) + ")" : "");
    var prev = el("button", "‹ prev"), next = el("button", "next ›");
    prev.disabled = st.page === 0;
    next.disabled = start + PAGE >= total;
    prev.addEventListener("click", function () { st.page--; renderTable(st); });
    next.addEventListener("click", function () { st.page++; renderTable(st); });
    st.pager.append(prev, " ", el("span", label, "note"), " ", next);
    if (st.pair) {
      var clear = el("button", "show all pairs");
      clear.addEventListener("click", function () { st.pair = null; filterTable(st, st.input ? st.input.value : ""); });
      st.pager.append(" ", clear);
    }
  }
  function highlightRow(st, attr, value) {
    st.rows.forEach(function (r) { r.classList.toggle("hl", r.getAttribute(attr) === value); });
  }

  /* ---------- the network graph ---------- */
  function hasWebGL() {
    try { var c = document.createElement("canvas"); return !!(c.getContext("webgl2") || c.getContext("webgl")); }
    catch (e) { return false; }
  }
  function rgba(hex, a) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
    if (!m) return "rgba(136,136,136," + a + ")";
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + a + ")";
  }
  function graphData(box) {
    var src = document.getElementById(box.getAttribute("data-graph"));
    return src ? JSON.parse(src.textContent) : { nodes: [], edges: [] };
  }
  function campaignOf(box) { return box.id.replace(/^g-/, ""); }

  function showInfo(box, parts) {
    var info = box.querySelector(".info");
    info.replaceChildren.apply(info, parts);
    info.classList.toggle("open", parts.length > 0);
  }
  function nodeInfo(box, data, id) {
    var n = data.byId[id];
    if (!n) return showInfo(box, []);
    var cid = campaignOf(box);
    var links = data.edges.filter(function (e) { return e.a === id || e.b === id; }).length;
    var parts = [el("b", n.handle, "d"), el("div", (n.category || "no label") + " · " + links + " links shown", "note")];
    if (n.label !== n.handle) parts.push(el("div", "spelt out: " + n.label, "note warn"));
    var btn = el("button", "show its evidence");
    btn.addEventListener("click", function () { filterEvidence(cid, n.handle, null); });
    parts.push(btn);
    if (MODE === "serve") {
      var a = el("a", "account page");
      a.href = "/account/" + encodeURIComponent(id);
      parts.push(" ", a);
    }
    var mem = tables["mem-" + cid];
    if (mem) highlightRow(mem, "data-account", id);
    showInfo(box, parts);
  }
  function edgeInfo(box, data, e) {
    var cid = campaignOf(box);
    var la = data.byId[e.a].handle, lb = data.byId[e.b].handle;
    var head = el("div");
    head.append(el("b", la, "d"), " — ", el("b", lb, "d"));
    var parts = [head, el("div", "strength " + fmt(e.strength) + " · " + fmt(e.shared) + " shared actions · " +
      e.traces.join(", "), "note")];
    var btn = el("button", "why are these two linked?");
    btn.addEventListener("click", function () { filterEvidence(cid, "", [la, lb]); });
    parts.push(btn);
    if (MODE === "serve") {
      var a = el("a", "pair page");
      a.href = "/pair/" + encodeURIComponent(e.a) + "/" + encodeURIComponent(e.b);
      parts.push(" ", a);
    }
    showInfo(box, parts);
  }
  function filterEvidence(cid, text, pair) {
    var st = tables["ev-" + cid];
    if (!st) return;
    st.pair = pair;
    if (st.input) st.input.value = text || "";
    filterTable(st, text || "");
    var h = document.getElementById("ev-" + cid + "-h");
    if (h) h.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function drawGraph(box) {
    if (graphs[box.id]) return graphs[box.id];
    var data = graphData(box);
    data.byId = {};
    data.nodes.forEach(function (n) { data.byId[n.id] = n; });
    var container = box.querySelector(".canvas");
    if (!data.nodes.length) { container.replaceChildren(el("p", "No accounts to draw.", "note")); return null; }
    var maxS = data.edges.reduce(function (m, e) { return Math.max(m, e.strength); }, 0) || 1;
    var g;
    if (typeof Sigma === "undefined" || typeof graphology === "undefined" || !hasWebGL()) {
      g = { kill: function () {}, fallback: drawCanvas(box, container, data, maxS) };
      graphs[box.id] = g;
      return g;
    }
    var graph = new graphology.Graph({ type: "undirected", multi: false });
    data.nodes.forEach(function (n) {
      graph.addNode(n.id, { x: n.x, y: -n.y, size: n.size, color: n.color, label: n.label });
    });
    var edgeOf = {};
    data.edges.forEach(function (e, i) {
      if (!graph.hasNode(e.a) || !graph.hasNode(e.b) || graph.hasEdge(e.a, e.b)) return;
      var key = "e" + i;
      edgeOf[key] = e;
      graph.addEdgeWithKey(key, e.a, e.b, { size: 0.6 + 3.4 * Math.sqrt(e.strength / maxS), color: rgba(e.color, 0.7) });
    });
    var hovered = null;
    var sigma = new Sigma(graph, container, {
      enableEdgeEvents: true, renderEdgeLabels: false, zIndex: true,
      // small groups: every name; crowds: only the bigger dots until one zooms in
      labelRenderedSizeThreshold: data.nodes.length <= 60 ? 0 : 7,
      labelFont: "system-ui, sans-serif", labelSize: 12, stagePadding: 80,
      nodeReducer: function (node, attrs) {
        if (!hovered || node === hovered || graph.areNeighbors(node, hovered)) {
          return node === hovered ? Object.assign({}, attrs, { highlighted: true, zIndex: 2 }) : attrs;
        }
        return Object.assign({}, attrs, { color: "#dfe3e8", label: "", zIndex: 0 });
      },
      edgeReducer: function (edge, attrs) {
        if (hovered && !graph.hasExtremity(edge, hovered)) return Object.assign({}, attrs, { hidden: true });
        return attrs;
      }
    });
    sigma.on("enterNode", function (ev) { hovered = ev.node; sigma.refresh({ skipIndexation: true }); });
    sigma.on("leaveNode", function () { hovered = null; sigma.refresh({ skipIndexation: true }); });
    sigma.on("clickNode", function (ev) { nodeInfo(box, data, ev.node); });
    sigma.on("clickEdge", function (ev) { if (edgeOf[ev.edge]) edgeInfo(box, data, edgeOf[ev.edge]); });
    sigma.on("clickStage", function () { showInfo(box, []); });
    g = { kill: function () { sigma.kill(); }, sigma: sigma, focus: function (id) {
      hovered = id; sigma.refresh({ skipIndexation: true }); nodeInfo(box, data, id);
    } };
    graphs[box.id] = g;
    box.sigma = sigma;  // for the browser tests and the console: the live renderer of this box
    return g;
  }

  // Without WebGL: a plain 2D drawing of the same layout (no pan or zoom), so the picture is never missing.
  function drawCanvas(box, container, data, maxS) {
    var w = container.clientWidth || 800, h = container.clientHeight || 500, pad = 30;
    var dpr = window.devicePixelRatio || 1;
    var c = el("canvas");
    c.width = w * dpr; c.height = h * dpr; c.style.width = w + "px"; c.style.height = h + "px";
    container.replaceChildren(c);
    var ctx = c.getContext("2d");
    ctx.scale(dpr, dpr);
    function X(n) { return pad + n.x * (w - 2 * pad); }
    function Y(n) { return pad + n.y * (h - 2 * pad); }
    data.edges.forEach(function (e) {
      var a = data.byId[e.a], b = data.byId[e.b];
      if (!a || !b) return;
      ctx.strokeStyle = rgba(e.color, 0.5);
      ctx.lineWidth = 0.6 + 3 * Math.sqrt(e.strength / maxS);
      ctx.beginPath(); ctx.moveTo(X(a), Y(a)); ctx.lineTo(X(b), Y(b)); ctx.stroke();
    });
    data.nodes.forEach(function (n) {
      ctx.fillStyle = n.color;
      ctx.beginPath(); ctx.arc(X(n), Y(n), n.size, 0, 2 * Math.PI); ctx.fill();
    });
    c.addEventListener("click", function (ev) {
      var r = c.getBoundingClientRect(), best = null, bd = 15 * 15;
      data.nodes.forEach(function (n) {
        var d = Math.pow(X(n) - (ev.clientX - r.left), 2) + Math.pow(Y(n) - (ev.clientY - r.top), 2);
        if (d < bd) { bd = d; best = n; }
      });
      if (best) nodeInfo(box, data, best.id); else showInfo(box, []);
    });
    return c;
  }

  /* ---------- views (the report holds every view; one is shown at a time) ---------- */
  var current = null;
  function showView(id) {
    var sections = document.querySelectorAll("section.view");
    var target = document.getElementById("view-" + id);
    if (!target || !target.classList.contains("view")) target = document.getElementById("view-overview");
    if (!target) return;
    sections.forEach(function (s) { s.hidden = s !== target; });
    document.querySelectorAll("aside a.camp").forEach(function (a) {
      a.classList.toggle("on", "view-" + a.getAttribute("data-campaign") === target.id);
    });
    document.querySelectorAll("header nav a").forEach(function (a) {
      a.classList.toggle("on", "view-" + a.getAttribute("href").slice(1) === target.id);
    });
    if (current && current !== target) {
      current.querySelectorAll(".graph").forEach(function (b) { if (graphs[b.id]) { graphs[b.id].kill(); delete graphs[b.id]; } });
    }
    current = target;
    target.querySelectorAll(".graph").forEach(drawGraph);
    return target;
  }
  function route() {
    var id = decodeURIComponent((location.hash || "#overview").slice(1));
    showView(id);
    window.scrollTo(0, 0);
  }

  /* ---------- search ---------- */
  function goToAccount(id, handle, cid) {
    if (MODE === "serve") { location.href = "/account/" + encodeURIComponent(id); return; }
    if (cid) {
      if (location.hash !== "#" + cid) { history.pushState(null, "", "#" + cid); }
      showView(cid);
      var mem = tables["mem-" + cid];
      if (mem) {
        if (mem.input) mem.input.value = handle;
        filterTable(mem, handle);
        highlightRow(mem, "data-account", id);
      }
      var g = graphs["g-" + cid];
      if (g && g.focus) g.focus(id);
      var h = document.getElementById("mem-" + cid);
      if (h) h.scrollIntoView({ block: "center" });
    } else {
      history.pushState(null, "", "#accounts");
      showView("accounts");
      var acc = tables["accounts-table"];
      if (acc) {
        if (acc.input) acc.input.value = handle;
        filterTable(acc, handle);
        highlightRow(acc, "data-account", id);
      }
    }
  }
  function showResults(box, items, q) {
    box.replaceChildren();
    if (!items.length) {
      var msg = "nothing matches “" + q + "”";
      var st = tables["accounts-table"], total = st ? Number(st.table.getAttribute("data-total")) : 0;
      if (MODE === "report" && st && total > st.rows.length) {
        msg += " among the " + fmt(st.rows.length) + " accounts this report holds (of " + fmt(total) + "); use trollscope serve for all";
      }
      box.append(el("div", msg, "none"));
    }
    items.forEach(function (it) {
      var b = el("button");
      b.type = "button";
      var left = el("span", it.label, "d");
      b.append(left, el("span", it.meta, "note"));
      b.addEventListener("click", function () { box.classList.remove("open"); it.go(); });
      box.append(b);
    });
    box.classList.add("open");
  }
  function campaignMatches(q) {
    var out = [];
    document.querySelectorAll("aside a.camp").forEach(function (a) {
      var cid = a.getAttribute("data-campaign");
      if (cid.toLowerCase() === q || cid.toLowerCase() === "c" + q) {
        out.push({ label: cid, meta: "campaign", go: function () {
          if (MODE === "serve") location.href = a.getAttribute("href"); else location.hash = "#" + cid;
        } });
      }
    });
    return out;
  }
  function setupSearch() {
    var input = document.getElementById("q"), box = document.getElementById("results");
    if (!input) return;
    var timer, last = [];
    function run() {
      var q = input.value.trim().toLowerCase().replace(/^@/, "");
      if (!q) { box.classList.remove("open"); return; }
      var found = campaignMatches(q);
      if (MODE === "report") {
        var st = tables["accounts-table"];
        (st ? st.rows : []).some(function (r) {
          var h = r.getAttribute("data-handle") || "", id = r.getAttribute("data-account") || "";
          if (h.toLowerCase().indexOf(q) >= 0 || id.toLowerCase().indexOf(q) >= 0) {
            var cid = r.getAttribute("data-campaign");
            found.push({ label: h || id, meta: cid ? "in " + cid : "not flagged",
                         go: function () { goToAccount(id, h || id, cid); } });
          }
          return found.length >= 25;
        });
        last = found;
        showResults(box, found, q);
      } else {
        fetch("/accounts.json?limit=25&q=" + encodeURIComponent(q)).then(function (r) { return r.json(); })
          .then(function (d) {
            (d.accounts || []).forEach(function (a) {
              found.push({ label: a.handle || a.account_id, meta: a.campaign_id ? "in " + a.campaign_id : "not flagged",
                           go: function () { goToAccount(a.account_id, a.handle, a.campaign_id); } });
            });
            last = found;
            showResults(box, found, q);
          }).catch(function () { showResults(box, [], q); });
      }
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 150); });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && last.length) { box.classList.remove("open"); last[0].go(); }
      if (ev.key === "Escape") box.classList.remove("open");
    });
    document.addEventListener("click", function (ev) { if (!ev.target.closest(".search")) box.classList.remove("open"); });
  }

  // A click on a member row shows that account in the campaign's graph.
  function setupMemberClicks() {
    Object.keys(tables).forEach(function (id) {
      if (id.indexOf("mem-") !== 0) return;
      var cid = id.slice(4), st = tables[id];
      st.body.addEventListener("click", function (ev) {
        if (ev.target.closest("a")) return;
        var row = ev.target.closest("tr");
        var g = graphs["g-" + cid];
        if (!row || !g || !g.focus) return;
        highlightRow(st, "data-account", row.getAttribute("data-account"));
        g.focus(row.getAttribute("data-account"));
        var box = document.getElementById("g-" + cid);
        if (box) box.scrollIntoView({ behavior: "smooth", block: "center" });
      });
    });
  }

  /* ---------- start ---------- */
  document.addEventListener("click", function (ev) {
    var c = ev.target.closest && ev.target.closest(".clamp");
    if (c && !window.getSelection().toString()) c.classList.toggle("open");
  });
  document.querySelectorAll("table.paged").forEach(setupTable);
  setupMemberClicks();
  setupSearch();
  if (MODE === "report") {
    window.addEventListener("hashchange", route);
    route();
  } else {
    document.querySelectorAll(".graph").forEach(drawGraph);
  }
  document.body.setAttribute("data-ready", "1");
})();
