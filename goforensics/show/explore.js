/* goforensics report: the explorable flame graph of blocked stacks.
 * Reads its data with JSON.parse from the JSON block #gf-flame-data
 * and draws through DOM APIs and textContent only: no markup parsing, no code from strings, no fetch. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var src = $("gf-flame-data");
  var graph = $("gf-graph");
  if (!src || !graph) { return; }
  var D = JSON.parse(src.textContent);
  var ROW = 18;
  var MIN_PX = 0.5;
  var ui = {
    search: $("gf-search"), found: $("gf-found"), focus: $("gf-focus"),
    ignore: $("gf-ignore"), runtime: $("gf-runtime"), reset: $("gf-reset"),
    error: $("gf-error"), crumbs: $("gf-crumbs"), detail: $("gf-detail"), tip: $("gf-tip")
  };
  var state = { path: [], clusters: null, clusterLabel: "" };
  var shownTotal = 0;

  function make(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function regex(input) {
    var v = input.value;
    if (!v) { return null; }
    try { return new RegExp(v); } catch (err) {
      ui.error.textContent = input.id.replace("gf-", "") + ": not a regular expression (" + err.message + ")";
      return null;
    }
  }

  function anyName(frames, re) {
    for (var i = 0; i < frames.length; i++) { if (re.test(D.names[frames[i]])) { return true; } }
    return false;
  }

  // the tree of frame prefixes of the stacks kept by the filters
  function build() {
    ui.error.textContent = "";
    var focus = regex(ui.focus), ignore = regex(ui.ignore), runtime = ui.runtime.checked;
    var root = { fn: -1, n: 0, kids: new Map(), parent: null };
    D.stacks.forEach(function (s) {
      var frames = s[0], n = s[1], waitState = s[3];
      if (state.clusters && !state.clusters.has(s[2])) { return; }
      if (focus && !anyName(frames, focus)) { return; }
      if (ignore && anyName(frames, ignore)) { return; }
      root.n += n;
      var node = root;
      frames.forEach(function (fn) {
        if (!runtime && D.classes[fn] === "runtime") { return; }
        var kid = node.kids.get(fn);
        if (!kid) { kid = { fn: fn, n: 0, kids: new Map(), parent: node }; node.kids.set(fn, kid); }
        kid.n += n;
        node = kid;
      });
      // where these goroutines wait: the state they are blocked in, on their last frame shown
      node.ends = node.ends || new Map();
      node.ends.set(waitState, (node.ends.get(waitState) || 0) + n);
    });
    return root;
  }

  function zoomNode(root) {
    var node = root, kept = [];
    for (var i = 0; i < state.path.length; i++) {
      var kid = node.kids.get(state.path[i]);
      if (!kid) { break; }
      node = kid;
      kept.push(state.path[i]);
    }
    state.path = kept;
    return node;
  }

  function sortedKids(node) {
    return Array.from(node.kids.values()).sort(function (a, b) {
      return b.n - a.n || (D.names[a.fn] < D.names[b.fn] ? -1 : 1);
    });
  }

  function label(node) { return node.fn < 0 ? "all blocked goroutines" : D.short[node.fn]; }
  function fullName(node) { return node.fn < 0 ? "all blocked goroutines" : D.names[node.fn]; }

  function pct(a, b) { return b ? (100 * a / b).toFixed(1) + "%" : "0%"; }

  function describe(node) {
    var what = node.n + " goroutine" + (node.n === 1 ? "" : "s");
    var lines = [fullName(node),
      what + ": " + pct(node.n, shownTotal) + " of the shown, " + pct(node.n, D.goroutines) +
      " of all " + D.goroutines + " blocked" + (node.fn >= 0 ? " (" + D.classes[node.fn] + ")" : "")];
    if (node.ends && node.fn >= 0) {
      var waits = [];
      node.ends.forEach(function (k, st) { waits.push(k + " blocked here in [" + D.states[st] + "]"); });
      lines.push(waits.join(", "));
    }
    return lines;
  }

  function drawCrumbs(root) {
    ui.crumbs.replaceChildren();
    if (state.clusters) {
      var chip = make("button", "chip", "stacks of " + state.clusterLabel + " \u2715");
      chip.type = "button";
      chip.title = "show every stack again";
      chip.addEventListener("click", function () { state.clusters = null; state.path = []; render(); });
      ui.crumbs.appendChild(chip);
    }
    var node = root, trail = [root];
    state.path.forEach(function (fn) { node = node.kids.get(fn); trail.push(node); });
    trail.forEach(function (n, i) {
      if (i > 0) { ui.crumbs.appendChild(make("span", "sep", "\u203a")); }
      var b = make("button", "crumb", i === 0 ? "all" : D.short[n.fn]);
      b.type = "button";
      b.title = fullName(n);
      b.addEventListener("click", function () { state.path = state.path.slice(0, i); render(); });
      ui.crumbs.appendChild(b);
    });
  }

  function box(node, x, w, depth, width, query, frag) {
    var e = make("div", "fr c-" + (node.fn < 0 ? "all" : D.classes[node.fn]), label(node));
    e.style.left = (100 * x) + "%";
    e.style.width = (100 * w) + "%";
    e.style.top = (depth * ROW) + "px";
    if (w * width < 24) { e.textContent = ""; } else { e.tabIndex = 0; }
    e.gfNode = node;
    e.setAttribute("role", "treeitem");
    e.setAttribute("aria-label", describe(node).join(", "));
    if (query && node.fn >= 0 && D.names[node.fn].toLowerCase().indexOf(query) >= 0) {
      e.classList.add("hit");
    }
    frag.appendChild(e);
  }

  // count the matching frames of the subtree (drawn or too narrow to draw) and their goroutines
  function matches(node, query, under, acc) {
    var hit = node.fn >= 0 && D.names[node.fn].toLowerCase().indexOf(query) >= 0;
    if (hit) { acc.frames += 1; if (!under) { acc.goroutines += node.n; } }
    node.kids.forEach(function (k) { matches(k, query, under || hit, acc); });
    return acc;
  }

  function render() {
    var root = build();
    var top = zoomNode(root);
    shownTotal = top.n;
    var width = graph.clientWidth || 1000;
    var query = ui.search.value.toLowerCase();
    var frag = document.createDocumentFragment();
    var deepest = 0;
    var todo = [[top, 0, 1, 0]];
    while (todo.length) {
      var item = todo.pop(), node = item[0], x = item[1], w = item[2], depth = item[3];
      box(node, x, w, depth, width, query, frag);
      deepest = Math.max(deepest, depth);
      var cx = x;
      sortedKids(node).forEach(function (k) {
        var kw = node.n ? w * k.n / node.n : 0;
        if (kw * width >= MIN_PX) { todo.push([k, cx, kw, depth + 1]); }
        cx += kw;
      });
    }
    graph.replaceChildren(frag);
    graph.style.height = ((deepest + 1) * ROW) + "px";
    graph.classList.toggle("searching", query.length > 0);
    if (query) {
      var acc = matches(top, query, false, { frames: 0, goroutines: 0 });
      ui.found.textContent = acc.frames + " frame" + (acc.frames === 1 ? "" : "s") + " match (" +
        acc.goroutines + " goroutines, " + pct(acc.goroutines, shownTotal) + ")";
      ui.found.dataset.frames = String(acc.frames);
    } else {
      ui.found.textContent = "";
      delete ui.found.dataset.frames;
    }
    if (!top.n) { graph.replaceChildren(make("p", "muted", "no blocked stack passes the filters")); }
    drawCrumbs(root);
  }

  function showTip(ev, node) {
    var lines = describe(node);
    ui.tip.replaceChildren(make("b", "", lines[0]));
    lines.slice(1).forEach(function (l) { ui.tip.appendChild(make("div", "", l)); });
    ui.detail.textContent = lines.join(" \u2014 ");
    ui.tip.hidden = false;
    var sx = window.scrollX, sy = window.scrollY;
    var left = ev.clientX + 14, maxLeft = document.documentElement.clientWidth - ui.tip.offsetWidth - 8;
    ui.tip.style.left = (Math.max(4, Math.min(left, maxLeft)) + sx) + "px";
    ui.tip.style.top = (ev.clientY + 16 + sy) + "px";
  }

  graph.addEventListener("mousemove", function (ev) {
    var t = ev.target;
    if (t && t.gfNode) { showTip(ev, t.gfNode); } else { ui.tip.hidden = true; }
  });
  graph.addEventListener("mouseleave", function () { ui.tip.hidden = true; });
  graph.addEventListener("keydown", function (ev) {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.gfNode) {
      ev.preventDefault();
      zoomTo(ev.target.gfNode);
    }
  });
  graph.addEventListener("focusin", function (ev) {
    if (ev.target.gfNode) { ui.detail.textContent = describe(ev.target.gfNode).join(" \u2014 "); }
  });
  graph.addEventListener("click", function (ev) {
    var node = ev.target && ev.target.gfNode;
    if (node) { zoomTo(node); }
  });

  function zoomTo(node) {
    var path = [];
    for (var n = node; n && n.fn >= 0; n = n.parent) { path.unshift(n.fn); }
    // a click on the zoomed frame itself zooms out one level
    if (path.length && path.length === state.path.length) { path.pop(); }
    state.path = path;
    ui.tip.hidden = true;
    render();
    var top = graph.querySelector(".fr");
    if (top && top.tabIndex === 0) { top.focus({ preventScroll: true }); }
  }
  [ui.search, ui.focus, ui.ignore].forEach(function (i) { i.addEventListener("input", render); });
  ui.runtime.addEventListener("change", render);
  ui.reset.addEventListener("click", function () {
    ui.search.value = ""; ui.focus.value = ""; ui.ignore.value = "";
    state.path = []; state.clusters = null;
    render();
  });

  // a suspect's or a cause's card focuses the graph on its clusters' stacks
  document.querySelectorAll(".card[data-clusters]").forEach(function (card) {
    var ids = card.dataset.clusters.split(" ").filter(Boolean).map(Number);
    var head = card.querySelector("h3");
    var b = make("button", "focus-btn", "show its stacks in the flame graph");
    b.type = "button";
    b.addEventListener("click", function () {
      state.clusters = new Set(ids);
      state.clusterLabel = head ? head.textContent : "a suspect";
      state.path = [];
      render();
      $("gf-flame").scrollIntoView({ block: "start" });
    });
    if (head) { card.insertBefore(b, head); } else { card.prepend(b); }
  });

  render();
}());

/* Zoom and pan on the report's inline charts: the wheel zooms around the pointer, a drag pans,
 * a double click restores the whole chart. Only each chart's viewBox moves: nothing is drawn
 * from data here, so no text of a dump passes through this code. */
(function () {
  "use strict";
  document.querySelectorAll("figure.svg > svg[viewBox]").forEach(function (svg) {
    var full = svg.getAttribute("viewBox").split(/\s+/).map(Number);
    if (full.length !== 4 || !(full[2] > 0 && full[3] > 0)) { return; }
    var view = full.slice();
    var drag = null;
    svg.classList.add("zoomable");
    function set(v) { view = v; svg.setAttribute("viewBox", v.join(" ")); }
    function point(ev) {  // the pointer in the chart's own coordinates
      var r = svg.getBoundingClientRect();
      return [view[0] + (ev.clientX - r.left) / r.width * view[2],
              view[1] + (ev.clientY - r.top) / r.height * view[3]];
    }
    svg.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var k = ev.deltaY < 0 ? 0.8 : 1.25;
      var w = Math.min(full[2], Math.max(full[2] / 20, view[2] * k));
      var h = view[3] * w / view[2];
      var p = point(ev);
      set([p[0] - (p[0] - view[0]) * w / view[2], p[1] - (p[1] - view[1]) * h / view[3], w, h]);
    }, { passive: false });
    svg.addEventListener("mousedown", function (ev) { drag = point(ev); });
    svg.addEventListener("mousemove", function (ev) {
      if (!drag) { return; }
      var p = point(ev);
      set([view[0] + drag[0] - p[0], view[1] + drag[1] - p[1], view[2], view[3]]);
    });
    ["mouseup", "mouseleave"].forEach(function (n) { svg.addEventListener(n, function () { drag = null; }); });
    svg.addEventListener("dblclick", function () { set(full.slice()); });
  });
}());
