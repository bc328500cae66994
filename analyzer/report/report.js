// figkit report.html: everything from the analysis is written with textContent, never as HTML.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("figkit-data").textContent);
  const KINDS = data.edge_kinds; // analyzer/edge_kinds.py: name, doc, strong, shown, color
  const kindOf = Object.fromEntries(KINDS.map((k) => [k.name, k]));
  const NO_SERVICE = "#cccccc";

  // DOM's append writes null as the text "null": leave out what is not there.
  function appendAll(node, ...children) {
    node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "checked") node.checked = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const where = (evidence) => (evidence || []).map((e) => `${e.file}:${e.line || 0}`).join(", ");
  const round = (x) => (x >= 1000 ? (x / 1000).toFixed(1) + "k" : String(Math.round(x)));
  const byKey = (list, key) => Object.fromEntries(list.map((x) => [x[key], x]));

  // ---- colours: a distinct one per service, however many -----------------------------------
  function hslToHex(h, s, l) {
    const a = s * Math.min(l, 1 - l);
    const f = (n) => {
      const k = (n + h / 30) % 12;
      return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)))).toString(16).padStart(2, "0");
    };
    return "#" + f(0) + f(8) + f(4);
  }
  const gcd = (a, b) => (b ? gcd(b, a % b) : a);

  // Evenly spaced hues, handed out with a stride so that services next to each other in the
  // legend are far apart on the wheel; neighbouring hues differ in lightness too.
  function distinctColours(count) {
    const n = Math.max(count, 1);
    let stride = Math.max(1, Math.round(n * 0.38));
    while (gcd(stride, n) !== 1) stride += 1;
    return Array.from({ length: count }, (_, i) => {
      const slot = (i * stride) % n;
      return hslToHex((slot * 360) / n, 0.68, [0.46, 0.68, 0.33][slot % 3]);
    });
  }

  const services = data.services.map((s) => s.name);
  const serviceInfo = byKey(data.services, "name");
  const isShared = (name) => (serviceInfo[name] || {}).kind === "shared_kernel";
  const colour = {};
  const own = services.filter((s) => !isShared(s));
  distinctColours(own.length).forEach((c, i) => { colour[own[i]] = c; });
  services.filter(isShared).forEach((s, i) => { colour[s] = hslToHex(0, 0, 0.62 - 0.08 * i); });
  const colourOf = (service) => colour[service] || NO_SERVICE;
  const textOn = (hex) => { // black or white, whichever reads on that background
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return 0.299 * r + 0.587 * g + 0.114 * b < 140 ? "#ffffff" : "#111111";
  };
  const swatch = (service) => el("span", { class: "swatch", style: `background:${colourOf(service)}` });

  // ---- indexes --------------------------------------------------------------------------
  const appInfo = byKey(data.apps, "label");
  const byId = byKey(data.elements, "id");
  const elementsOf = {};
  for (const e of data.elements) (elementsOf[e.app] = elementsOf[e.app] || []).push(e);
  const appsOf = {};
  for (const a of data.apps) if (a.service) (appsOf[a.service] = appsOf[a.service] || []).push(a.label);

  // ---- page -------------------------------------------------------------------------------
  const root = (data.project.root || "project").split("/").filter(Boolean).pop();
  document.body.append(el("header", {}, el("h1", {}, "Coupling report: ", root), countsLine(), countsLegend()));

  function countsLine() {
    const c = data.counts, counted = data.counted || {};
    const parts = ["apps", "models", "routes", "services", "edges"].map((name) => {
      const aside = (counted[name] || {}).aside;
      return el("span", { class: "count", title: (counted[name] || {}).what || "" },
        `${c[name] ?? 0} ${name}`, aside ? ` (${aside})` : "");
    });
    const m = data.metrics || {};
    return el("p", { class: "summary" }, parts.flatMap((p, i) => (i ? [" · ", p] : [p])),
      `. figkit ${data.tool.version || ""}, ${m.granularity || "app"} granularity.`);
  }
  function countsLegend() {
    const counted = data.counted || {};
    return el("details", { class: "counted" }, el("summary", {}, "what is counted"),
      el("ul", {}, Object.entries(counted).map(([name, c]) => el("li", {}, el("b", {}, name), ": ", c.what))));
  }

  const sections = {};
  const nav = el("nav", {});
  document.body.append(nav);
  for (const name of ["Graph", "Matrix", "Services", "Metrics", "Plan", "Cycles", "Warnings"]) {
    const section = el("section", { id: "section-" + name.toLowerCase() });
    sections[name] = section;
    nav.append(el("a", { href: "#" + name.toLowerCase(), onclick: (ev) => { ev.preventDefault(); show(name); } }, name));
    document.body.append(section);
  }
  function show(name) {
    for (const [key, section] of Object.entries(sections)) section.hidden = key !== name;
    for (const a of nav.children) a.classList.toggle("active", a.textContent === name);
    if (name === "Graph" && network) network.redraw();
    if (name === "Matrix") drawMatrix();
  }

  // ---- graph state and controls ------------------------------------------------------------
  const openServices = new Set(); // services shown as their apps
  const expanded = new Set(); // apps, and subpackages of big apps, shown as what they hold
  const hiddenApps = new Set();
  const hiddenKinds = new Set(KINDS.filter((k) => !k.shown).map((k) => k.name));
  // The weight threshold starts on "auto": the heaviest edges of what is drawn, about two per
  // node, so 40 apps and 2,000 edges do not open as a hairball; moving it shows any weight.
  let threshold = 0, auto = true, maxWeight = 1;
  const AUTO_EDGES_PER_NODE = 2, AUTO_MIN_EDGES = 20;

  const hint = () => el("p", { class: "hint" }, "Click a service to open it into its apps, an app into its models and modules; click anything to see its evidence.");
  const details = el("aside", { id: "details" }, hint());
  const canvas = el("div", { id: "network" });
  const thresholdNumber = el("input", { type: "number", min: 0, step: "any", value: 0, "data-threshold": "number",
    oninput: (ev) => setThreshold(Number(ev.target.value) || 0) });
  const thresholdSlider = el("input", { type: "range", min: 0, max: 1000, value: 0, "data-threshold": "slider",
    oninput: (ev) => setThreshold(Math.round(maxWeight * (Number(ev.target.value) / 1000) ** 2)) });
  const autoBox = el("input", { type: "checkbox", checked: true, "data-threshold": "auto",
    onchange: (ev) => { auto = ev.target.checked; if (!auto) threshold = 0; draw(); } });
  const shownText = el("span", { class: "hint" });

  function setThreshold(value) {
    threshold = value;
    auto = autoBox.checked = false;
    draw();
  }
  function autoThreshold(weights, nodes) {
    const keep = Math.max(AUTO_MIN_EDGES, AUTO_EDGES_PER_NODE * nodes);
    const sorted = [...weights].sort((a, b) => b - a);
    return sorted.length > keep ? sorted[keep - 1] : 0;
  }
  function showThreshold(shown, total) {
    if (document.activeElement !== thresholdNumber) thresholdNumber.value = Math.round(threshold * 100) / 100;
    if (document.activeElement !== thresholdSlider) thresholdSlider.value = Math.round(1000 * Math.sqrt(Math.min(1, threshold / maxWeight)));
    shownText.textContent = ` ${shown} of ${total} edges shown`;
  }

  function kindBox(k) {
    return el("label", { title: k.doc }, el("input", { type: "checkbox", checked: !hiddenKinds.has(k.name), "data-kind": k.name,
      onchange: (ev) => { ev.target.checked ? hiddenKinds.delete(k.name) : hiddenKinds.add(k.name); draw(); } }),
    " ", el("span", { class: "line", style: `background:${k.color}` }), " ", k.name);
  }
  function appBox(a) {
    return el("label", {}, el("input", { type: "checkbox", checked: true, "data-app": a.label,
      onchange: (ev) => { ev.target.checked ? hiddenApps.delete(a.label) : hiddenApps.add(a.label); draw(); } }), " ", a.label);
  }
  function legendItem(s) {
    return el("button", { class: "legend-item" + (isShared(s.name) ? " shared" : ""), "data-service": s.name, title: s.note || "",
      onclick: () => (openServices.has(s.name) ? closeService(s.name) : openService(s.name)) },
    swatch(s.name), " ", s.name, isShared(s.name) ? " (shared library)" : "", el("span", { class: "n" }, ` ${s.apps.length}`));
  }

  const present = new Set(data.edges.map((e) => e.kind));
  appendAll(sections.Graph,
    el("div", { class: "toolbar" },
      el("fieldset", {}, el("legend", {}, "edge kinds"), KINDS.filter((k) => present.has(k.name)).map(kindBox)),
      el("fieldset", { class: "threshold" }, el("legend", {}, "hide edges lighter than"), thresholdSlider, " ", thresholdNumber,
        " ", el("label", { title: "the heaviest edges only, about two per node" }, autoBox, " auto"), el("br", {}), shownText),
      el("details", { class: "apps" }, el("summary", {}, `apps (${data.apps.length})`), el("div", { class: "drop" }, data.apps.map(appBox))),
      el("button", { onclick: closeAll }, "close all")),
    el("div", { id: "legend", class: "legend" }, el("span", { class: "legend-title" }, "services (click to open):"), data.services.map(legendItem)),
    el("div", { class: "graph-row" }, canvas, details),
  );

  // ---- what each element is drawn as -----------------------------------------------------
  // An app of more than BIG elements opens into its subpackages first (saleor's graphql has 700 modules).
  const BIG = 40;
  function pathOf(e) {
    const base = appInfo[e.app].name || e.app;
    if (e.type === "model") return ["models", e.id.split(".").pop()];
    if (e.id === base) return ["__init__"];
    return e.id.startsWith(base + ".") ? e.id.slice(base.length + 1).split(".") : [e.id];
  }
  const groupSize = {};
  for (const e of data.elements) {
    let prefix = e.app;
    for (const part of pathOf(e).slice(0, -1)) { prefix += "/" + part; groupSize[prefix] = (groupSize[prefix] || 0) + 1; }
  }

  function nodeFor(element) {
    const e = byId[element];
    if (!e || hiddenApps.has(e.app)) return null;
    const service = appInfo[e.app].service;
    if (service && !openServices.has(service)) return "svc:" + service;
    if (!expanded.has(e.app)) return "app:" + e.app;
    return insideApp(e);
  }
  function insideApp(e) {
    if ((elementsOf[e.app] || []).length <= BIG) return "el:" + e.id;
    let prefix = e.app;
    for (const part of pathOf(e).slice(0, -1)) {
      prefix += "/" + part;
      if (!expanded.has(prefix) && groupSize[prefix] > 1) return "grp:" + prefix;
    }
    return "el:" + e.id;
  }
  const splitId = (id) => [id.slice(0, id.indexOf(":")), id.slice(id.indexOf(":") + 1)];

  function nodeIds() {
    const ids = new Set();
    for (const app of data.apps) {
      if (hiddenApps.has(app.label)) continue;
      const elements = elementsOf[app.label] || [];
      if (!elements.length) ids.add("app:" + app.label); // an app with no code of its own has no service
      for (const e of elements) ids.add(nodeFor(e.id));
    }
    return [...ids];
  }

  const NODE = {
    svc: (id, name) => {
      const size = (appsOf[name] || []).reduce((n, a) => n + (elementsOf[a] || []).length, 0);
      return { id, label: isShared(name) ? `${name}\n(shared library)` : name, shape: isShared(name) ? "square" : "dot",
        title: `${name}: ${(appsOf[name] || []).length} apps, ${size} models and modules; click to open`,
        size: 12 + 3 * size ** 0.4, color: { background: colourOf(name), border: "#222" }, borderWidth: 2,
        font: { size: 18, strokeWidth: 4, strokeColor: "#ffffff" } };
    },
    app: (id, label) => {
      const a = appInfo[label];
      return { id, label, title: `${label}: ${a.models} models, ${a.modules} modules`, shape: "dot",
        size: 12 + 2 * Math.sqrt(a.models + a.modules), color: { background: colourOf(a.service), border: "#222" },
        shapeProperties: { borderDashes: a.service ? [5, 3] : false }, borderWidth: 2, // dashed: an app of an opened service
        font: { size: 16, strokeWidth: 3, strokeColor: "#ffffff" } };
    },
    grp: (id, prefix) => {
      const app = prefix.slice(0, prefix.indexOf("/"));
      return { id, label: `${prefix.slice(app.length + 1)}/ (${groupSize[prefix]})`, title: `${prefix}: ${groupSize[prefix]} elements; click to open`,
        shape: "diamond", size: 8 + 2 * Math.sqrt(groupSize[prefix]),
        color: { background: colourOf(appInfo[app].service), border: "#222" }, font: { size: 13 } };
    },
    el: (id, element) => {
      const e = byId[element];
      const isPackage = e.type === "module" && e.id === (appInfo[e.app].name || "");
      return { id, label: isPackage ? "__init__.py" : e.id.split(".").slice(-1)[0] + (e.type === "model" ? "" : ".py"),
        title: e.id, shape: e.type === "model" ? "box" : "ellipse",
        color: { background: colourOf(e.service), border: "#333" }, font: { size: 12, color: textOn(colourOf(e.service)) } };
    },
  };
  const visNode = (id) => { const [type, key] = splitId(id); return NODE[type](id, key); };

  // ---- edges: one per pair of drawn nodes, summed over the edges between what they hold --------
  function aggregate() {
    const links = new Map();
    data.edges.forEach((e, index) => {
      if (hiddenKinds.has(e.kind)) return;
      const a = nodeFor(e.source), b = nodeFor(e.target);
      if (!a || !b || a === b) return;
      const key = a < b ? a + "\u0000" + b : b + "\u0000" + a;
      let link = links.get(key);
      if (!link) links.set(key, (link = { from: a < b ? a : b, to: a < b ? b : a, weight: 0, there: 0, back: 0, kinds: {}, edges: [] }));
      link.weight += e.cost;
      if (a < b) link.there += e.cost; else link.back += e.cost;
      link.kinds[e.kind] = (link.kinds[e.kind] || 0) + e.cost;
      link.edges.push(index);
    });
    return links;
  }
  const nameOf = (id) => splitId(id)[1];
  const kindsText = (kinds) => Object.entries(kinds).sort((x, y) => y[1] - x[1]).map(([k, w]) => `${k} ${round(w)}`).join(", ");
  function linkTitle(l) {
    const a = nameOf(l.from), b = nameOf(l.to);
    return [l.there ? `${a} → ${b}: ${round(l.there)}` : null, l.back ? `${b} → ${a}: ${round(l.back)}` : null,
      kindsText(l.kinds)].filter(Boolean).join("\n");
  }
  function visEdge(key, l) {
    const main = Object.entries(l.kinds).sort((x, y) => y[1] - x[1])[0][0];
    return { id: key, from: l.from, to: l.to, arrows: { to: { enabled: l.there > 0, scaleFactor: 0.4 }, from: { enabled: l.back > 0, scaleFactor: 0.4 } },
      width: 1 + 11 * (l.weight / maxWeight), title: linkTitle(l), color: { color: kindOf[main].color, opacity: 0.7 } };
  }

  // ---- drawing ----------------------------------------------------------------------------
  let network = null, nodeSet = null, edgeSet = null, drawnIds = [], links = new Map();
  function draw() {
    const ids = nodeIds();
    links = aggregate();
    const weights = [...links.values()].map((l) => l.weight);
    maxWeight = weights.reduce((m, w) => Math.max(m, w), 1);
    if (auto) threshold = autoThreshold(weights, ids.length);
    const edges = [...links.entries()].filter(([, l]) => l.weight >= threshold).map(([key, l]) => visEdge(key, l));
    if (!network) create(ids.map(visNode), edges);
    else if (ids.length === drawnIds.length && ids.every((id, i) => id === drawnIds[i])) {
      edgeSet.clear(); // same nodes: leave them where they are
      edgeSet.add(edges);
    } else {
      nodeSet = new vis.DataSet(ids.map(visNode));
      edgeSet = new vis.DataSet(edges);
      window.figkit.settled = false;
      network.setOptions({ physics: { enabled: true } });
      network.setData({ nodes: nodeSet, edges: edgeSet });
    }
    drawnIds = ids;
    window.figkit.nodes = ids.length;
    window.figkit.edges = edges.length;
    window.figkit.links = links.size;
    window.figkit.kinds = [...new Set(edges.flatMap((e) => Object.keys(links.get(e.id).kinds)))].sort();
    showThreshold(edges.length, links.size);
  }
  function create(nodes, edges) {
    nodeSet = new vis.DataSet(nodes);
    edgeSet = new vis.DataSet(edges);
    network = new vis.Network(canvas, { nodes: nodeSet, edges: edgeSet }, {
      physics: { solver: "forceAtlas2Based", stabilization: { iterations: 200 },
        forceAtlas2Based: { gravitationalConstant: -120, centralGravity: 0.05, springLength: 150, avoidOverlap: 0.6 } },
      interaction: { hover: true, tooltipDelay: 150, hideEdgesOnDrag: true },
      edges: { smooth: false }, layout: { randomSeed: 1, improvedLayout: nodes.length < 150 }, // the same picture every time
    });
    network.on("stabilizationIterationsDone", () => {
      network.setOptions({ physics: { enabled: false } });
      network.fit({ maxZoomLevel: 1.3 });
      window.figkit.settled = true; // nodes stay where they are from now on
    });
    network.on("click", onClick);
  }

  // ---- opening and closing --------------------------------------------------------------------
  function forgetInside(key) {
    for (const p of [...expanded]) if (p === key || p.startsWith(key + "/")) expanded.delete(p);
  }
  function openService(name) {
    openServices.add(name);
    draw();
    const s = serviceInfo[name];
    details.replaceChildren(el("h3", {}, swatch(name), " ", name, isShared(name) ? " (shared library)" : ""),
      s.note ? el("p", { class: "note" }, s.note) : null,
      el("p", {}, `${s.apps.length} apps, ${s.models.length} models, ${s.routes.length} routes (opened).`),
      el("p", {}, "apps: ", s.apps.join(", ")),
      el("button", { onclick: () => closeService(name) }, "close " + name));
  }
  function closeService(name) {
    openServices.delete(name);
    for (const app of appsOf[name] || []) forgetInside(app);
    draw();
  }
  function openApp(app) {
    const info = appInfo[app];
    if (info.service) openServices.add(info.service);
    forgetInside(app);
    expanded.add(app);
    draw();
    details.replaceChildren(el("h3", {}, app),
      el("p", {}, `service ${info.service || "-"}; ${info.models} models, ${info.modules} modules (opened).`),
      el("button", { onclick: () => { forgetInside(app); draw(); } }, "close " + app));
  }
  function openGroup(prefix) {
    expanded.add(prefix);
    draw();
    details.replaceChildren(el("h3", {}, prefix), el("p", {}, `${groupSize[prefix]} elements (opened).`),
      el("button", { onclick: () => { forgetInside(prefix); draw(); } }, "close " + prefix));
  }
  function closeAll() {
    openServices.clear();
    expanded.clear();
    details.replaceChildren(hint());
    draw();
  }

  // ---- evidence ------------------------------------------------------------------------------
  function evidenceList(indices) {
    const list = el("ul", { class: "evidence" });
    for (const index of indices.slice(0, 200)) {
      const e = data.edges[index];
      const item = el("li", {}, el("b", {}, e.kind), " ", e.source, " → ", e.target);
      const places = el("ul", {}, e.evidence.map((ev) => el("li", { class: "where" }, `${ev.file}:${ev.line || 0}`)));
      if (e.more) places.append(el("li", {}, `… and ${e.more} more places`));
      item.append(places);
      list.append(item);
    }
    if (indices.length > 200) list.append(el("li", {}, `… and ${indices.length - 200} more edges`));
    return list;
  }
  function showElement(element) {
    const touching = [];
    data.edges.forEach((e, i) => { if (e.source === element || e.target === element) touching.push(i); });
    const app = byId[element].app;
    details.replaceChildren(el("h3", {}, element),
      el("p", {}, `app ${app}; service ${byId[element].service || "-"}; ${touching.length} edges.`),
      el("button", { onclick: () => { forgetInside(app); draw(); } }, "close " + app),
      evidenceList(touching));
  }
  function showLink(key) {
    const link = links.get(key);
    if (!link) return;
    details.replaceChildren(el("h3", {}, nameOf(link.from), " — ", nameOf(link.to)),
      el("p", { class: "pre" }, linkTitle(link)), evidenceList(link.edges));
  }
  function onClick(params) {
    if (params.nodes.length) {
      const [type, key] = splitId(params.nodes[0]);
      ({ svc: openService, app: openApp, grp: openGroup, el: showElement })[type](key);
    } else if (params.edges.length) showLink(params.edges[0]);
  }

  // ---- coupling matrix (DSM): apps ordered by service, cut cells marked ------------------------
  const matrixDetails = el("aside", { id: "matrix-details" }, el("p", { class: "hint" }, "Click a cell to list its evidence."));
  const matrixHolder = el("div", { class: "matrix" });
  const matrixKinds = el("p", { class: "hint" });
  appendAll(sections.Matrix, el("h2", {}, "Coupling matrix"),
    el("p", {}, "Row app depends on column app; a cell is the summed coupling weight of its edges. ",
      "Apps are ordered by service and each service's block is outlined; red cells cross a service boundary (the cut), blue ones stay inside."),
    matrixKinds, el("div", { class: "matrix-row" }, matrixHolder, matrixDetails));

  function matrixOrder() {
    const rank = Object.fromEntries(services.map((s, i) => [s, i]));
    return data.apps.filter((a) => (elementsOf[a.label] || []).length)
      .sort((a, b) => (rank[a.service] ?? 1e9) - (rank[b.service] ?? 1e9) || a.label.localeCompare(b.label));
  }
  function matrixCells(order) {
    const index = Object.fromEntries(order.map((a, i) => [a.label, i]));
    const cells = new Map();
    data.edges.forEach((e, k) => {
      if (hiddenKinds.has(e.kind)) return;
      const i = index[byId[e.source].app], j = index[byId[e.target].app];
      if (i === undefined || j === undefined || i === j) return;
      const cell = cells.get(i + "," + j) || { weight: 0, kinds: {}, edges: [] };
      cell.weight += e.cost;
      cell.kinds[e.kind] = (cell.kinds[e.kind] || 0) + e.cost;
      cell.edges.push(k);
      cells.set(i + "," + j, cell);
    });
    return cells;
  }
  // Block borders: a line where the service changes, a heavy outline round each service's own block.
  function blockClasses(order, i, j) {
    const starts = (k) => k === 0 || order[k - 1].service !== order[k].service;
    const ends = (k) => k === order.length - 1 || order[k + 1].service !== order[k].service;
    const out = [];
    if (starts(i)) out.push("bt");
    if (starts(j)) out.push("bl");
    if (order[i].service === order[j].service) {
      if (starts(i)) out.push("ot");
      if (ends(i)) out.push("ob");
      if (starts(j)) out.push("ol");
      if (ends(j)) out.push("or");
    }
    return out;
  }
  function matrixCell(order, i, j, cell, max) {
    const a = order[i], b = order[j];
    const cut = a.service !== b.service;
    const classes = ["cell", ...blockClasses(order, i, j)];
    if (i === j) classes.push("diag");
    if (cell) classes.push(cut ? "cut" : "inside");
    const td = el("td", { class: classes.join(" "), "data-from": a.label, "data-to": b.label,
      title: cell ? `${a.label} → ${b.label}: ${round(cell.weight)} (${kindsText(cell.kinds)})` : `${a.label} → ${b.label}` },
    cell ? round(cell.weight) : "");
    if (cell) {
      td.style.setProperty("--level", (0.15 + 0.85 * Math.sqrt(cell.weight / max)).toFixed(2));
      td.addEventListener("click", () => {
        for (const other of matrixHolder.querySelectorAll("td.selected")) other.classList.remove("selected");
        td.classList.add("selected");
        showCell(a, b, cell);
      });
    }
    return td;
  }
  function serviceHead(order, i) {
    const service = order[i].service;
    if (i > 0 && order[i - 1].service === service) return null; // the block's first row holds its name
    const rows = order.slice(i).findIndex((a) => a.service !== service);
    return el("th", { class: "svc bt", rowspan: rows < 0 ? order.length - i : rows },
      swatch(service), " ", service || "no service", isShared(service) ? " (shared library)" : "");
  }
  function matrixRow(order, i, cells, max) {
    const a = order[i];
    const head = el("th", { class: "row " + blockClasses(order, i, i).filter((c) => c === "bt").join(" ") }, `${i + 1}. ${a.label}`);
    return el("tr", {}, serviceHead(order, i), head, order.map((_, j) => matrixCell(order, i, j, cells.get(i + "," + j), max)));
  }
  function drawMatrix() {
    const order = matrixOrder();
    const cells = matrixCells(order);
    const max = [...cells.values()].reduce((m, c) => Math.max(m, c.weight), 1);
    const head = el("tr", {}, el("th", { colspan: 2 }, ""), order.map((a, j) =>
      el("th", { class: "col " + blockClasses(order, 0, j).filter((c) => c === "bl").join(" "), title: `${a.label} (${a.service || "no service"})` }, String(j + 1))));
    const table = el("table", { class: "dsm" }, head, order.map((_, i) => matrixRow(order, i, cells, max)));
    table.style.setProperty("--cell", Math.round(Math.max(21, Math.min(34, 640 / Math.max(order.length, 1)))) + "px");
    matrixKinds.textContent = "Kinds counted: " + KINDS.filter((k) => present.has(k.name) && !hiddenKinds.has(k.name)).map((k) => k.name).join(", ") +
      (KINDS.some((k) => present.has(k.name) && hiddenKinds.has(k.name)) ? " (the others are off on the Graph tab)." : ".");
    matrixHolder.replaceChildren(table);
    window.figkit.cells = cells.size;
  }
  function showCell(a, b, cell) {
    const cut = a.service !== b.service;
    matrixDetails.replaceChildren(el("h3", {}, a.label, " → ", b.label),
      el("p", {}, cut ? `Cut: from service ${a.service || "-"} to service ${b.service || "-"}.` : `Inside service ${a.service || "-"}.`),
      el("p", {}, `weight ${round(cell.weight)}: ${kindsText(cell.kinds)}`), evidenceList(cell.edges));
  }

  // ---- services, metrics, plan, cycles, warnings -------------------------------------------
  appendAll(sections.Services, el("h2", {}, "Suggested services"),
    (data.metrics || {}).note ? el("p", { class: "note" }, data.metrics.note) : null,
    el("table", {}, el("tr", {}, ["service", "apps", "models", "tables", "routes"].map((h) => el("th", {}, h))),
      data.services.map((s) => el("tr", { class: isShared(s.name) ? "shared" : "" },
        el("td", {}, swatch(s.name), " ", s.name, s.extracted ? " (extracted)" : "", isShared(s.name) ? " (shared library, not a service)" : "",
          s.note ? el("div", { class: "hint" }, s.note) : null),
        el("td", {}, s.apps.join(", ")),
        el("td", {}, el("details", {}, el("summary", {}, String(s.models.length)), el("ul", {}, s.models.map((m) => el("li", {}, m))))),
        el("td", {}, el("details", {}, el("summary", {}, String(s.tables.length)), el("ul", {}, s.tables.map((t) => el("li", {}, t))))),
        el("td", {}, el("details", {}, el("summary", {}, String(s.routes.length)), el("ul", {}, s.routes.map((r) => el("li", {}, "/" + r)))))))));

  const m = data.metrics || {};
  const METRICS = data.metric_labels;  // [key, label, "higher" | "lower" | null], from analyzer/decompose/outputs.py
  if (m.suggested && m.suggested.services !== undefined) {
    const rows = METRICS.map(([key, label, better]) => {
      const s = m.suggested[key], b = m.per_app[key];
      const mark = better && s !== b ? ((s > b) === (better === "higher") ? "suggested" : "per app") : "";
      return el("tr", {}, el("td", {}, label), el("td", {}, s), el("td", {}, b), el("td", {}, mark));
    });
    for (const key of Object.keys(m.suggested.cut || {})) {
      const s = m.suggested.cut[key], b = m.per_app.cut[key];
      rows.push(el("tr", {}, el("td", {}, "cut: " + key.replace("_", " ")), el("td", {}, s), el("td", {}, b), el("td", {}, s === b ? "" : s < b ? "suggested" : "per app")));
    }
    appendAll(sections.Metrics, el("h2", {}, "Metrics: suggested against one service per app"),
      data.verdict ? el("p", { class: "verdict" }, data.verdict) : null,
      m.note ? el("p", { class: "note" }, m.note) : null,
      el("p", {}, `Objective: ${m.objective}. ${m.offered === false ? "The suggestion is NOT offered: it is worse than per-app on the objective." : ""}`),
      el("table", {}, el("tr", {}, ["metric", "suggested", "per app", "better"].map((h) => el("th", {}, h))), rows));
  }

  function planItem(item) {
    if (item.writes) return `the transaction in ${item.function || item.module} (writes ${item.writes.join(", ")})`;
    return `${item.kind ? item.kind + " " : ""}${item.source} → ${item.target}`;
  }
  appendAll(sections.Plan, el("h2", {}, "Extraction plan"), el("p", {}, "Least entangled first. Tick items off as you go (not saved)."));
  for (const step of data.plan) {
    const items = el("ul", { class: "checklist" });
    const add = (text, evidence) => items.append(el("li", {}, el("label", {}, el("input", { type: "checkbox" }), " ", text,
      evidence ? el("span", { class: "where" }, " " + where(Array.isArray(evidence) ? evidence : [evidence])) : null)));
    if (step.routes.length) add(`Route ${step.routes.length} routes through the proxy (routes/${String(step.order).padStart(2, "0")}-${step.service}.json): ` +
      step.routes.map((r) => r.proxy_route.match).join(", "));
    if (step.tables.length) add(`Move tables: ${step.tables.join(", ")}`);
    for (const [key, title] of data.plan_lists) { // analyzer/edge_kinds.py: one list per way of cutting
      for (const item of step[key] || []) add(`${title}: ${planItem(item)}`, item.evidence);
    }
    appendAll(sections.Plan, el("h3", {}, `${step.order}. ${step.service}`, step.stays_in_monolith ? " (what remains of the monolith)" : ""),
      el("p", {}, `entanglement ${step.entanglement}`), items);
  }

  appendAll(sections.Cycles, el("h2", {}, "Cycles between apps"),
    data.cycles.length ? el("p", {}, "Shortest first; each hop with the edges that close it.") : el("p", {}, "No cycles between apps."));
  for (const cycle of data.cycles) {
    appendAll(sections.Cycles, el("details", {}, el("summary", {}, [...cycle.apps, cycle.apps[0]].join(" → ")),
      el("ul", {}, cycle.links.map((l) => el("li", {}, `${l.from} → ${l.to}: `,
        el("ul", {}, l.edges.map((e) => el("li", {}, `${e.kind} ${e.source} → ${e.target} `, el("span", { class: "where" }, where(e.where)))),
          l.more ? el("li", {}, `… and ${l.more} more`) : null))))));
  }

  appendAll(sections.Warnings, el("h2", {}, `Warnings (${data.warnings.length})`),
    el("ul", {}, data.warnings.map((w) => el("li", {}, el("span", { class: "where" }, `${w.file || "project"}${w.line ? ":" + w.line : ""}`), " ", w.message))));

  window.figkit = { data, expand: (key) => (appInfo[key] ? openApp(key) : openGroup(key)), openService, closeAll,
    weightOf: (key) => links.get(key).weight, get network() { return network; } };
  show("Graph");
  draw();
})();
