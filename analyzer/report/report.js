// figkit report.html: everything from the analysis is written with textContent, never as HTML.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("figkit-data").textContent);
  const KINDS = data.edge_kinds.map((k) => k.name); // analyzer/edge_kinds.py
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                   "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d"];

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

  const services = [...new Set(data.services.map((s) => s.name))];
  const colour = Object.fromEntries(services.map((s, i) => [s, PALETTE[i % PALETTE.length]]));
  const appOf = Object.fromEntries(data.elements.map((e) => [e.id, e.app]));
  const elementsOf = {};
  for (const e of data.elements) (elementsOf[e.app] = elementsOf[e.app] || []).push(e);

  // ---- page -------------------------------------------------------------------------------
  const root = (data.project.root || "project").split("/").filter(Boolean).pop();
  const c = data.counts;
  document.body.append(
    el("header", {},
      el("h1", {}, "Coupling report: ", root),
      el("p", { class: "summary" },
        `${c.apps} apps, ${c.models} models, ${c.routes} routes, ${c.edges} edges. `,
        `figkit ${data.tool.version || ""}; ${data.services.length} suggested services (${(data.metrics || {}).granularity || "app"} granularity).`)),
  );
  const sections = {};
  const nav = el("nav", {});
  document.body.append(nav);
  for (const name of ["Graph", "Services", "Metrics", "Plan", "Cycles", "Warnings"]) {
    const section = el("section", { id: "section-" + name.toLowerCase() });
    sections[name] = section;
    nav.append(el("a", { href: "#" + name.toLowerCase(), onclick: (ev) => { ev.preventDefault(); show(name); } }, name));
    document.body.append(section);
  }
  function show(name) {
    for (const [key, section] of Object.entries(sections)) section.hidden = key !== name;
    for (const a of nav.children) a.classList.toggle("active", a.textContent === name);
    if (name === "Graph" && network) network.redraw();
  }

  // ---- graph ------------------------------------------------------------------------------
  const expanded = new Set();
  const hiddenApps = new Set();
  const hiddenKinds = new Set(["import", "cochange"].filter(() => data.counts.elements > 1500));
  const details = el("aside", { id: "details" }, el("p", { class: "hint" }, "Click an app to open it into its models and modules; click anything to see its evidence."));
  const canvas = el("div", { id: "network" });
  const kindBoxes = el("fieldset", {}, el("legend", {}, "edge kinds"),
    KINDS.filter((k) => data.edges.some((e) => e.kind === k)).map((k) =>
      el("label", {}, el("input", { type: "checkbox", checked: !hiddenKinds.has(k), "data-kind": k,
        onchange: (ev) => { ev.target.checked ? hiddenKinds.delete(k) : hiddenKinds.add(k); draw(); } }), " ", k)));
  const appBoxes = el("fieldset", { class: "apps" }, el("legend", {}, "apps"),
    data.apps.map((a) => el("label", {}, el("input", { type: "checkbox", checked: true, "data-app": a.label,
      onchange: (ev) => { ev.target.checked ? hiddenApps.delete(a.label) : hiddenApps.add(a.label); draw(); } }), " ", a.label)));
  sections.Graph.append(
    el("div", { class: "toolbar" }, kindBoxes, appBoxes,
      el("button", { onclick: () => { expanded.clear(); draw(); } }, "close all apps")),
    el("div", { class: "graph-row" }, canvas, details),
  );

  // An app of more than BIG elements opens into its subpackages first (saleor's graphql has 700 modules).
  const BIG = 40;
  const appInfo = Object.fromEntries(data.apps.map((a) => [a.label, a]));
  const byId = Object.fromEntries(data.elements.map((e) => [e.id, e]));
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
    if (!expanded.has(e.app)) return "app:" + e.app;
    if ((elementsOf[e.app] || []).length <= BIG) return "el:" + element;
    let prefix = e.app;
    for (const part of pathOf(e).slice(0, -1)) {
      prefix += "/" + part;
      if (!expanded.has(prefix) && groupSize[prefix] > 1) return "grp:" + prefix;
    }
    return "el:" + element;
  }
  let links = new Map();
  function model() {
    const nodes = [];
    const seen = new Set();
    for (const app of data.apps) {
      if (hiddenApps.has(app.label)) continue;
      if (!expanded.has(app.label) || !(elementsOf[app.label] || []).length) {
        nodes.push({ id: "app:" + app.label, label: app.label, title: `${app.label}: ${app.models} models, ${app.modules} modules`,
          shape: "dot", size: 12 + 2 * Math.sqrt(app.models + app.modules),
          color: { background: colour[app.service] || "#ccc", border: "#222" }, font: { size: 16 } });
        continue;
      }
      for (const e of elementsOf[app.label]) {
        const id = nodeFor(e.id);
        if (seen.has(id)) continue;
        seen.add(id);
        if (id.startsWith("grp:")) {
          const prefix = id.slice(4);
          nodes.push({ id, label: `${prefix.slice(app.label.length + 1)}/ (${groupSize[prefix]})`, title: `${prefix}: ${groupSize[prefix]} elements; click to open`,
            shape: "diamond", size: 8 + 2 * Math.sqrt(groupSize[prefix]),
            color: { background: colour[app.service] || "#ccc", border: "#222" }, font: { size: 13 } });
        } else {
          const isPackage = e.type === "module" && e.id === (appInfo[e.app].name || "");
          nodes.push({ id, label: isPackage ? "__init__.py" : e.id.split(".").slice(-1)[0] + (e.type === "model" ? "" : ".py"),
            title: e.id, shape: e.type === "model" ? "box" : "ellipse",
            color: { background: colour[e.service] || "#ccc", border: "#333" }, font: { size: 12 } });
        }
      }
    }
    links = new Map();
    data.edges.forEach((e, index) => {
      if (hiddenKinds.has(e.kind)) return;
      const from = nodeFor(e.source), to = nodeFor(e.target);
      if (!from || !to || from === to) return;
      const key = from + "\u0000" + to;
      const link = links.get(key) || { from, to, weight: 0, kinds: {}, edges: [] };
      link.weight += e.weight; link.kinds[e.kind] = (link.kinds[e.kind] || 0) + e.weight; link.edges.push(index);
      links.set(key, link);
    });
    const edges = [...links.entries()].map(([key, l]) => ({ id: key, from: l.from, to: l.to, arrows: "to",
      width: Math.min(8, 0.5 + Math.log1p(l.weight)), title: Object.entries(l.kinds).map(([k, n]) => `${k} ${n}`).join(", "),
      color: { color: l.kinds.atomic || l.kinds.fk || l.kinds.join ? "#c0392b" : "#999", opacity: 0.6 } }));
    return { nodes, edges };
  }

  let network = null;
  function draw() {
    const { nodes, edges } = model();
    const payload = { nodes: new vis.DataSet(nodes), edges: new vis.DataSet(edges) };
    if (!network) {
      network = new vis.Network(canvas, payload, {
        physics: { solver: "forceAtlas2Based", stabilization: { iterations: 150 }, forceAtlas2Based: { gravitationalConstant: -60 } },
        interaction: { hover: true, tooltipDelay: 150, hideEdgesOnDrag: true },
        edges: { smooth: false }, layout: { improvedLayout: nodes.length < 150 },
      });
      network.on("stabilizationIterationsDone", () => network.setOptions({ physics: { enabled: false } }));
      network.on("click", onClick);
    } else {
      network.setOptions({ physics: { enabled: true } });
      network.setData(payload);
    }
    window.figkit.nodes = nodes.length;
    window.figkit.edges = edges.length;
  }

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

  function onClick(params) {
    details.replaceChildren();
    if (params.nodes.length) {
      const id = params.nodes[0];
      if (id.startsWith("grp:")) {
        const prefix = id.slice(4);
        expanded.add(prefix);
        draw();
        details.append(el("h3", {}, prefix), el("p", {}, `${groupSize[prefix]} elements (opened).`),
          el("button", { onclick: () => { for (const p of [...expanded]) if (p === prefix || p.startsWith(prefix + "/")) expanded.delete(p); draw(); } }, "close " + prefix));
        return;
      }
      if (id.startsWith("app:")) {
        const app = id.slice(4);
        const info = data.apps.find((a) => a.label === app);
        expanded.add(app);
        for (const p of [...expanded]) if (p.startsWith(app + "/")) expanded.delete(p);
        draw();
        details.append(el("h3", {}, app), el("p", {}, `service ${info.service || "-"}; ${info.models} models, ${info.modules} modules (opened).`),
          el("button", { onclick: () => { expanded.delete(app); draw(); } }, "close " + app));
        return;
      }
      const element = id.slice(3);
      const touching = [];
      data.edges.forEach((e, i) => { if (e.source === element || e.target === element) touching.push(i); });
      const app = appOf[element];
      details.append(el("h3", {}, element),
        el("p", {}, `app ${app}; service ${(data.elements.find((e) => e.id === element) || {}).service || "-"}; ${touching.length} edges.`),
        el("button", { onclick: () => { expanded.delete(app); draw(); } }, "close " + app),
        evidenceList(touching));
    } else if (params.edges.length) {
      const link = links.get(params.edges[0]);
      if (!link) return;
      details.append(el("h3", {}, link.from.slice(link.from.indexOf(":") + 1), " → ", link.to.slice(link.to.indexOf(":") + 1)),
        el("p", {}, Object.entries(link.kinds).map(([k, n]) => `${k} ${n}`).join(", ")), evidenceList(link.edges));
    }
  }

  // ---- services, metrics, plan, cycles, warnings -------------------------------------------
  sections.Services.append(el("h2", {}, "Suggested services"),
    (data.metrics || {}).note ? el("p", { class: "note" }, data.metrics.note) : null,
    el("table", {}, el("tr", {}, ["service", "apps", "models", "tables", "routes"].map((h) => el("th", {}, h))),
      data.services.map((s) => el("tr", {},
        el("td", {}, el("span", { class: "swatch", style: `background:${colour[s.name]}` }), " ", s.name, s.extracted ? " (extracted)" : ""),
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
    sections.Metrics.append(el("h2", {}, "Metrics: suggested against one service per app"),
      el("p", {}, `Objective: ${m.objective}. ${m.offered === false ? "The suggestion is NOT offered: it is worse than per-app on the objective." : ""}`),
      el("table", {}, el("tr", {}, ["metric", "suggested", "per app", "better"].map((h) => el("th", {}, h))), rows));
  }

  sections.Plan.append(el("h2", {}, "Extraction plan"), el("p", {}, "Least entangled first. Tick items off as you go (not saved)."));
  for (const step of data.plan) {
    const items = el("ul", { class: "checklist" });
    const add = (text, evidence) => items.append(el("li", {}, el("label", {}, el("input", { type: "checkbox" }), " ", text,
      evidence ? el("span", { class: "where" }, " " + where(Array.isArray(evidence) ? evidence : [evidence])) : null)));
    if (step.routes.length) add(`Route ${step.routes.length} routes through the proxy (routes/${String(step.order).padStart(2, "0")}-${step.service}.json): ` +
      step.routes.map((r) => r.proxy_route.match).join(", "));
    if (step.tables.length) add(`Move tables: ${step.tables.join(", ")}`);
    for (const r of step.cut_relations) add(`Replace ${r.kind} ${r.source} → ${r.target} by an id plus an API or event`, r.evidence);
    for (const s of step.atomic_to_saga) add(`Saga instead of the transaction in ${s.function || s.module} (writes ${s.writes.join(", ")})`, s.evidence);
    for (const j of step.joins_to_compose) add(`Compose ${j.source} ⋈ ${j.target} with API calls`, j.evidence);
    for (const r of step.raw_sql || []) add(`Raw SQL ${r.source} → ${r.target}: call the owner's API`, r.evidence);
    sections.Plan.append(el("h3", {}, `${step.order}. ${step.service}`, step.stays_in_monolith ? " (what remains of the monolith)" : ""),
      el("p", {}, `entanglement ${step.entanglement}`), items);
  }

  sections.Cycles.append(el("h2", {}, "Cycles between apps"),
    data.cycles.length ? el("p", {}, "Shortest first; each hop with the edges that close it.") : el("p", {}, "No cycles between apps."));
  for (const cycle of data.cycles) {
    sections.Cycles.append(el("details", {}, el("summary", {}, [...cycle.apps, cycle.apps[0]].join(" → ")),
      el("ul", {}, cycle.links.map((l) => el("li", {}, `${l.from} → ${l.to}: `,
        el("ul", {}, l.edges.map((e) => el("li", {}, `${e.kind} ${e.source} → ${e.target} `, el("span", { class: "where" }, where(e.where)))),
          l.more ? el("li", {}, `… and ${l.more} more`) : null))))));
  }

  sections.Warnings.append(el("h2", {}, `Warnings (${data.warnings.length})`),
    el("ul", {}, data.warnings.map((w) => el("li", {}, el("span", { class: "where" }, `${w.file || "project"}${w.line ? ":" + w.line : ""}`), " ", w.message))));

  window.figkit = { data, expand: (key) => { expanded.add(key); draw(); }, get network() { return network; } };
  show("Graph");
  draw();
})();
