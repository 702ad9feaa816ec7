// kubeseg's report page. Every element is built with textContent and attributes:
// the data comes from attacker-controlled manifests and never becomes markup.
'use strict';
(function () {
  const D = JSON.parse(document.getElementById('kubeseg-data').textContent);
  const G = D.graph;
  const SVG = 'http://www.w3.org/2000/svg';
  const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
  // Above this many nodes, namespaces start collapsed and open on click.
  const AGGREGATE_ABOVE = 1500;
  // Node-to-node lines are drawn for the whole graph up to this many connections.
  const MAX_BASE_LINES = 3000;
  // Lines drawn for one selection, and list entries shown in the panel, at most.
  const MAX_SELECTION_LINES = 1500;
  const MAX_LISTED = 300;
  const [CW, CH] = G.cell;
  const NW = CW - 8, NH = CH - 6;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function fmt(n) { return Number(n).toLocaleString('en-US'); }

  // --- Indexes over the grouped connections -------------------------------------
  const N = G.nodes.length;
  const srcClass = new Int32Array(N).fill(-1);
  const dstClass = new Int32Array(N).fill(-1);
  const outOf = new Map(), inOf = new Map();
  G.edges.forEach(function (e, i) {
    for (const n of G.classes[e[0]]) srcClass[n] = e[0];
    for (const n of G.classes[e[1]]) dstClass[n] = e[1];
    if (!outOf.has(e[0])) outOf.set(e[0], []);
    if (!inOf.has(e[1])) inOf.set(e[1], []);
    outOf.get(e[0]).push(i);
    inOf.get(e[1]).push(i);
  });
  const marks = new Map(D.marks.map(function (m) { return [m.node, m]; }));
  const byId = new Map(G.nodes.map(function (n, i) { return [n.id, i]; }));

  const state = {
    expanded: new Set(), node: -1, finding: -1, path: -1,
    ns: '', proto: 15, sev: new Set(SEVERITIES), showCut: true,
  };
  const aggregated = N > AGGREGATE_ABOVE;
  if (!aggregated) G.groups.forEach(function (_, g) { state.expanded.add(g); });

  // The most severe visible finding touching each node.
  function nodeSeverity() {
    const worst = new Map();
    D.findings.forEach(function (f) {
      if (!state.sev.has(f.severity) || f.suppressed) return;
      const rank = SEVERITIES.indexOf(f.severity);
      for (const n of f.nodes) {
        if (!worst.has(n) || worst.get(n) > rank) worst.set(n, rank);
      }
    });
    return worst;
  }

  // Connections of node n: [other node, ports index], filtered by protocol.
  function connections(n, outgoing) {
    const cls = outgoing ? srcClass[n] : dstClass[n];
    const list = [];
    if (cls < 0) return list;
    for (const i of (outgoing ? outOf : inOf).get(cls) || []) {
      const e = G.edges[i];
      if (!(G.portProtocols[e[2]] & state.proto)) continue;
      for (const m of G.classes[outgoing ? e[1] : e[0]]) {
        if (m !== n) list.push([m, e[2]]);
      }
    }
    list.sort(function (a, b) { return a[0] - b[0]; });
    return list;
  }

  // The selected node's connections, computed once per node and protocol filter (the
  // graph, the lines and the panel all ask for them).
  const selection = { key: '', out: [], inn: [] };
  function selected() {
    const key = state.node + ':' + state.proto;
    if (selection.key !== key) {
      selection.key = key;
      selection.out = state.node >= 0 ? connections(state.node, true) : [];
      selection.inn = state.node >= 0 ? connections(state.node, false) : [];
    }
    return selection;
  }

  // --- Page skeleton ------------------------------------------------------------
  const body = document.body;
  const header = el('header');
  header.appendChild(el('h1', {}, D.kind === 'audit' ? 'kubeseg audit' : 'kubeseg connectivity map'));
  const cards = el('div', { class: 'cards', id: 'summary' });
  function card(value, label, cls) {
    const c = el('div', { class: 'card' + (cls ? ' ' + cls : '') });
    c.appendChild(el('b', {}, value));
    c.appendChild(document.createTextNode(label));
    cards.appendChild(c);
  }
  const S = D.summary;
  if (S) {
    card(S.score === null ? 'n/a' : S.score, ' segmentation score');
    SEVERITIES.forEach(function (s) { card(S.findings[s] || 0, ' ' + s, 'sev-' + s); });
    if (S.suppressed) card(S.suppressed, ' suppressed');
    card(fmt(S.workloads), ' workloads');
    card(fmt(S.namespaces), ' namespaces');
    card(fmt(S.policies), ' policies');
  } else {
    card(fmt(G.nodes.filter(function (n) { return n.kind === 'w'; }).length), ' workloads');
    card(fmt(G.groups.length), ' groups');
    card(fmt(G.pairs), ' connections');
  }
  header.appendChild(cards);
  const theme = el('button', { id: 'theme', type: 'button', 'aria-label': 'Switch between light and dark theme' });
  header.appendChild(theme);
  body.appendChild(header);

  function setTheme(t) {
    document.documentElement.setAttribute('data-theme', t);
    theme.textContent = t === 'dark' ? 'Light theme' : 'Dark theme';
    theme.setAttribute('aria-pressed', String(t === 'dark'));
  }
  const prefersDark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
  setTheme(prefersDark ? 'dark' : 'light');
  theme.addEventListener('click', function () {
    setTheme(document.documentElement.getAttribute('data-theme') === 'dark' ? 'light' : 'dark');
  });

  if (D.notes.length) {
    const notes = el('details', { class: 'notes', id: 'notes' });
    notes.appendChild(el('summary', {}, D.notes.length + ' note(s): what this report does not show'));
    const ul = el('ul');
    D.notes.forEach(function (n) { ul.appendChild(el('li', {}, n)); });
    notes.appendChild(ul);
    body.appendChild(notes);
  }

  // Entry points, crown jewels and the worst paths.
  if (D.kind === 'audit') {
    const sec = el('section', { id: 'overview' });
    const entries = D.marks.filter(function (m) { return m.entry; });
    const jewels = D.marks.filter(function (m) { return m.jewel; });
    sec.appendChild(el('h2', {}, 'Entry points (' + entries.length + '), crown jewels (' + jewels.length + ') and the worst paths'));
    const lists = el('div', { class: 'legend' });
    function nodeButtons(title, list) {
      const d = el('div');
      d.appendChild(el('strong', {}, title + ': '));
      list.slice(0, 20).forEach(function (m) {
        const b = el('button', { type: 'button', class: 'node-link' }, G.nodes[m.node].id);
        b.addEventListener('click', function () { selectNode(m.node, true); });
        d.appendChild(b);
        d.appendChild(document.createTextNode(' '));
      });
      if (list.length > 20) d.appendChild(document.createTextNode('and ' + (list.length - 20) + ' more'));
      if (!list.length) d.appendChild(document.createTextNode('none'));
      return d;
    }
    lists.appendChild(nodeButtons('Entry points', entries));
    lists.appendChild(nodeButtons('Crown jewels', jewels));
    sec.appendChild(lists);
    const ol = el('ol', { id: 'paths' });
    D.paths.slice(0, 5).forEach(function (p, i) {
      const li = el('li');
      const b = el('button', { type: 'button', 'data-path': i, class: 'sev-' + p.severity },
        p.hops.map(function (h) { return G.nodes[h].id; }).join(' → '));
      b.addEventListener('click', function () { selectPath(i); });
      li.appendChild(b);
      ol.appendChild(li);
    });
    if (D.paths.length) sec.appendChild(ol);
    else sec.appendChild(el('p', { class: 'hint' }, 'No entry point reaches a crown jewel.'));
    body.appendChild(sec);
  }

  // --- Graph ----------------------------------------------------------------------
  const split = el('div', { class: 'split' });
  const pane = el('div', { id: 'graph-pane' });
  const bar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Graph filters and zoom' });
  function labelled(text, control) {
    const l = el('label', {}, text + ' ');
    l.appendChild(control);
    return l;
  }
  const nsSelect = el('select', { id: 'filter-ns' });
  nsSelect.appendChild(el('option', { value: '' }, 'all'));
  G.groups.forEach(function (g) { nsSelect.appendChild(el('option', { value: g.name }, g.name)); });
  bar.appendChild(labelled('Namespace', nsSelect));
  const protoSelect = el('select', { id: 'filter-proto' });
  [['15', 'all'], ['1', 'TCP'], ['2', 'UDP'], ['4', 'SCTP'], ['8', 'ICMP']].forEach(function (o) {
    protoSelect.appendChild(el('option', { value: o[0] }, o[1]));
  });
  bar.appendChild(labelled('Protocol', protoSelect));
  const sevBoxes = el('span', { id: 'filter-sev' });
  if (D.kind === 'audit') {
    SEVERITIES.forEach(function (s) {
      const cb = el('input', { type: 'checkbox', value: s, checked: '' });
      cb.addEventListener('change', function () {
        if (cb.checked) state.sev.add(s); else state.sev.delete(s);
        renderNodeSeverity();
        filterFindings();
      });
      const l = el('label', { class: 'sev-' + s });
      l.appendChild(cb);
      l.appendChild(document.createTextNode(s));
      sevBoxes.appendChild(l);
    });
    bar.appendChild(sevBoxes);
  }
  const cutBox = el('input', { type: 'checkbox', id: 'show-cut', checked: '' });
  if (D.cut.length) bar.appendChild(labelled('Minimal fix', cutBox));
  const find = el('input', { id: 'find-node', type: 'search', placeholder: 'workload id, Enter', 'aria-label': 'Find a workload by id' });
  bar.appendChild(find);
  [['zoom-in', '+', 'Zoom in'], ['zoom-out', '−', 'Zoom out'], ['zoom-fit', 'Fit', 'Fit the graph']].forEach(function (b) {
    const btn = el('button', { type: 'button', id: b[0], 'aria-label': b[2] }, b[1]);
    bar.appendChild(btn);
  });
  pane.appendChild(bar);
  const svg = sv('svg', { id: 'graph', tabindex: '0', role: 'application', 'aria-label': 'Connectivity graph: arrow keys pan, + and - zoom, 0 fits' });
  const defs = sv('defs');
  [['arrow', 'edge'], ['arrow-path', 'e-path'], ['arrow-cut', 'e-cut'], ['arrow-out', 'e-out'], ['arrow-in', 'e-in']].forEach(function (m) {
    const mk = sv('marker', { id: m[0], viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
    mk.appendChild(sv('path', { d: 'M0,0 L10,5 L0,10 z', class: m[1] }));
    defs.appendChild(mk);
  });
  svg.appendChild(defs);
  const viewport = sv('g', { id: 'viewport' });
  const layerGroups = sv('g', { id: 'layer-groups' });
  const layerEdges = sv('g', { id: 'layer-edges' });
  const layerNodes = sv('g', { id: 'layer-nodes' });
  const layerHl = sv('g', { id: 'layer-highlight' });
  // Highlighted lines sit above the others but under the nodes, whose labels stay readable.
  viewport.appendChild(layerGroups);
  viewport.appendChild(layerEdges);
  viewport.appendChild(layerHl);
  viewport.appendChild(layerNodes);
  svg.appendChild(viewport);
  pane.appendChild(svg);
  const legend = el('div', { class: 'legend toolbar' });
  [['var(--entry)', 'entry point'], ['var(--jewel)', 'crown jewel'], ['var(--out)', 'reaches'], ['var(--in)', 'reached from'],
   ['var(--path)', 'finding path'], ['var(--cut)', 'minimal fix (cut)'], ['var(--ext)', 'outside the cluster']].forEach(function (l) {
    const s = el('span');
    s.appendChild(el('i', { style: 'background:' + l[0] }));
    s.appendChild(document.createTextNode(l[1]));
    legend.appendChild(s);
  });
  pane.appendChild(legend);
  split.appendChild(pane);
  const panel = el('aside', { id: 'panel', 'aria-live': 'polite', tabindex: '-1' });
  split.appendChild(panel);
  body.appendChild(split);

  const nodeEls = new Array(N).fill(null);
  const groupEls = [];

  function center(n) {
    const node = G.nodes[n];
    if (state.expanded.has(node.group)) return [node.x + NW / 2, node.y + NH / 2];
    const g = G.groups[node.group];
    return [g.x + g.w / 2, g.y + g.h / 2];
  }

  function truncate(s, max) { return s.length > max ? s.slice(0, max - 1) + '…' : s; }

  function renderGroup(gi) {
    const g = G.groups[gi];
    const open = state.expanded.has(gi);
    const root = groupEls[gi];
    clear(root);
    root.setAttribute('class', 'group' + (open ? '' : ' collapsed'));
    root.appendChild(sv('rect', { class: 'group-box', x: g.x, y: g.y, width: g.w, height: open ? g.h : Math.min(g.h, 60), rx: 6 }));
    root.appendChild(sv('text', { class: 'group-title', x: g.x + 10, y: g.y + 20 }, truncate(g.name, Math.floor(g.w / 9))));
    root.appendChild(sv('text', { class: 'group-count', x: g.x + 10, y: g.y + 44 },
      open ? '' : fmt(g.nodes.length) + ' endpoint(s): click to expand'));
    if (!open) {
      root.setAttribute('tabindex', '0');
      root.setAttribute('role', 'button');
      root.setAttribute('aria-expanded', 'false');
      root.setAttribute('aria-label', 'Namespace ' + g.name + ', ' + g.nodes.length + ' endpoints, collapsed');
    } else {
      root.removeAttribute('tabindex');
      root.removeAttribute('role');
      root.removeAttribute('aria-expanded');
      root.setAttribute('aria-label', 'Namespace ' + g.name);
    }
  }

  function renderNodes(gi) {
    const g = G.groups[gi];
    for (const n of g.nodes) {
      const node = G.nodes[n];
      const m = marks.get(n);
      let cls = 'node k-' + node.kind;
      if (m && m.entry) cls += ' entry';
      if (m && m.jewel) cls += ' jewel';
      const e = sv('g', { class: cls, transform: 'translate(' + node.x + ',' + node.y + ')', 'data-i': n, 'data-id': node.id, tabindex: '0', role: 'button', 'aria-label': node.id });
      e.appendChild(sv('title', {}, node.id + (m && m.tags ? ' (' + m.tags.join('; ') + ')' : '')));
      e.appendChild(sv('rect', { width: NW, height: NH }));
      e.appendChild(sv('circle', { class: 'sev', cx: NW - 7, cy: 7, r: 0 }));
      e.appendChild(sv('text', { x: 6, y: NH / 2 + 4 }, (m && m.jewel ? '◆ ' : m && m.entry ? '▶ ' : '') + truncate(node.label, 23)));
      nodeEls[n] = e;
      layerNodes.appendChild(e);
    }
  }

  function expand(gi) {
    if (state.expanded.has(gi)) return;
    state.expanded.add(gi);
    renderGroup(gi);
    renderNodes(gi);
    applyNodeClasses();
    renderNodeSeverity();
    drawBaseEdges();
    redrawHighlight();
  }

  G.groups.forEach(function (_, gi) {
    const root = sv('g', { 'data-g': gi });
    groupEls.push(root);
    layerGroups.appendChild(root);
    renderGroup(gi);
    if (state.expanded.has(gi)) renderNodes(gi);
  });

  // A slightly bent line, so that lines between nodes of one column do not run
  // through the nodes between them.
  function curve(p, q) {
    const mx = (p[0] + q[0]) / 2, my = (p[1] + q[1]) / 2;
    const dx = q[0] - p[0], dy = q[1] - p[1];
    const bend = 0.18;
    return 'M' + p[0] + ',' + p[1] + ' Q' + (mx - dy * bend) + ',' + (my + dx * bend) + ' ' + q[0] + ',' + q[1];
  }
  function line(layer, a, b, cls, marker) {
    const attrs = { class: 'edge ' + cls, d: curve(center(a), center(b)) };
    if (marker) attrs['marker-end'] = 'url(#' + marker + ')';
    layer.appendChild(sv('path', attrs));
  }

  // The whole graph's lines: node to node when few, namespace to namespace otherwise.
  function drawBaseEdges() {
    clear(layerEdges);
    const allOpen = state.expanded.size === G.groups.length;
    if (allOpen && G.pairs <= MAX_BASE_LINES) {
      G.edges.forEach(function (e) {
        if (!(G.portProtocols[e[2]] & state.proto)) return;
        for (const a of G.classes[e[0]]) for (const b of G.classes[e[1]]) {
          if (a !== b) line(layerEdges, a, b, 'node-edge', 'arrow');
        }
      });
      return;
    }
    G.groupEdges.forEach(function (ge) {
      const a = G.groups[ge[0]], b = G.groups[ge[1]];
      layerEdges.appendChild(sv('path', {
        class: 'edge group-edge', 'marker-end': 'url(#arrow)',
        d: curve([a.x + a.w / 2, a.y + Math.min(a.h, 60) / 2], [b.x + b.w / 2, b.y + Math.min(b.h, 60) / 2]),
      }));
    });
  }

  function applyNodeClasses() {
    const out = new Set(), inn = new Set(), hl = new Set();
    if (state.node >= 0) {
      selected().out.forEach(function (c) { out.add(c[0]); });
      selected().inn.forEach(function (c) { inn.add(c[0]); });
    }
    const f = state.finding >= 0 ? D.findings[state.finding].nodes : state.path >= 0 ? D.paths[state.path].hops : [];
    f.forEach(function (n) { hl.add(n); });
    nodeEls.forEach(function (e, n) {
      if (!e) return;
      e.classList.toggle('selected', n === state.node);
      e.classList.toggle('out', out.has(n));
      e.classList.toggle('in', inn.has(n));
      e.classList.toggle('hl', hl.has(n));
      e.classList.toggle('dim', state.ns !== '' && G.groups[G.nodes[n].group].name !== state.ns);
    });
    // A collapsed namespace shows whether it holds reached, reaching or highlighted
    // nodes; a namespace-level finding highlights its namespaces.
    const groupsOf = function (set) {
      const gs = new Set();
      set.forEach(function (n) { gs.add(G.nodes[n].group); });
      return gs;
    };
    const gOut = groupsOf(out), gIn = groupsOf(inn), gHl = groupsOf(hl);
    if (state.finding >= 0) D.findings[state.finding].groups.forEach(function (g) { gHl.add(g); });
    groupEls.forEach(function (e, gi) {
      e.classList.toggle('dim', state.ns !== '' && G.groups[gi].name !== state.ns);
      e.classList.toggle('g-out', gOut.has(gi));
      e.classList.toggle('g-in', gIn.has(gi));
      e.classList.toggle('g-hl', gHl.has(gi));
    });
  }

  function renderNodeSeverity() {
    const worst = nodeSeverity();
    nodeEls.forEach(function (e, n) {
      if (!e) return;
      const c = e.querySelector('.sev');
      if (worst.has(n)) {
        c.setAttribute('r', '5');
        c.setAttribute('class', 'sev s-' + SEVERITIES[worst.get(n)]);
      } else {
        c.setAttribute('r', '0');
        c.setAttribute('class', 'sev');
      }
    });
  }

  function redrawHighlight() {
    clear(layerHl);
    if (state.showCut) D.cut.forEach(function (c) { line(layerHl, c[0], c[1], 'e-cut', 'arrow-cut'); });
    if (state.node >= 0) {
      let drawn = 0;
      for (const c of selected().out) {
        if (drawn++ >= MAX_SELECTION_LINES) break;
        line(layerHl, state.node, c[0], 'e-out', 'arrow-out');
      }
      drawn = 0;
      for (const c of selected().inn) {
        if (drawn++ >= MAX_SELECTION_LINES) break;
        line(layerHl, c[0], state.node, 'e-in', 'arrow-in');
      }
    }
    if (state.finding >= 0) {
      D.findings[state.finding].edges.forEach(function (e) { line(layerHl, e[0], e[1], 'e-path', 'arrow-path'); });
    }
    if (state.path >= 0) {
      const h = D.paths[state.path].hops;
      for (let i = 0; i + 1 < h.length; i++) line(layerHl, h[i], h[i + 1], 'e-path', 'arrow-path');
    }
  }

  // --- Zoom and pan -------------------------------------------------------------
  let view = { x: 0, y: 0, w: 1, h: 1 };
  const extent = G.groups.reduce(function (a, g) {
    return [Math.max(a[0], g.x + g.w), Math.max(a[1], g.y + g.h)];
  }, [CW, CH]);
  function setView(v) {
    view = v;
    svg.setAttribute('viewBox', [v.x, v.y, v.w, v.h].join(' '));
  }
  function fit() { setView({ x: -10, y: -10, w: extent[0] + 20, h: extent[1] + 20 }); }
  function zoom(factor, cx, cy) {
    const x = cx === undefined ? view.x + view.w / 2 : cx;
    const y = cy === undefined ? view.y + view.h / 2 : cy;
    const w = Math.min(Math.max(view.w * factor, 100), extent[0] * 20 + 1000);
    const k = w / view.w;
    setView({ x: x - (x - view.x) * k, y: y - (y - view.y) * k, w: w, h: view.h * k });
  }
  function toGraph(evt) {
    const r = svg.getBoundingClientRect();
    const scale = Math.max(view.w / r.width, view.h / r.height);
    const ox = view.x - (r.width * scale - view.w) / 2, oy = view.y - (r.height * scale - view.h) / 2;
    return [ox + (evt.clientX - r.left) * scale, oy + (evt.clientY - r.top) * scale, scale];
  }
  fit();
  svg.addEventListener('wheel', function (evt) {
    evt.preventDefault();
    const p = toGraph(evt);
    zoom(evt.deltaY > 0 ? 1.2 : 1 / 1.2, p[0], p[1]);
  }, { passive: false });
  let drag = null;
  svg.addEventListener('pointerdown', function (evt) {
    if (evt.target.closest && (evt.target.closest('.node') || evt.target.closest('.group.collapsed'))) return;
    drag = { x: evt.clientX, y: evt.clientY, view: view, scale: toGraph(evt)[2] };
    svg.classList.add('panning');
  });
  window.addEventListener('pointermove', function (evt) {
    if (!drag) return;
    setView({ x: drag.view.x - (evt.clientX - drag.x) * drag.scale, y: drag.view.y - (evt.clientY - drag.y) * drag.scale, w: drag.view.w, h: drag.view.h });
  });
  window.addEventListener('pointerup', function () { drag = null; svg.classList.remove('panning'); });
  svg.addEventListener('keydown', function (evt) {
    if (evt.target !== svg) return;
    const step = view.w / 10;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (evt.key === '+' || evt.key === '=') zoom(1 / 1.25);
    else if (evt.key === '-') zoom(1.25);
    else if (evt.key === '0') fit();
    else if (moves[evt.key]) setView({ x: view.x + moves[evt.key][0], y: view.y + moves[evt.key][1], w: view.w, h: view.h });
    else return;
    evt.preventDefault();
  });
  document.getElementById('zoom-in').addEventListener('click', function () { zoom(1 / 1.25); });
  document.getElementById('zoom-out').addEventListener('click', function () { zoom(1.25); });
  document.getElementById('zoom-fit').addEventListener('click', fit);

  // Shows node n in the middle of the view, at a readable scale.
  function focusOn(nodes) {
    if (!nodes.length) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    nodes.forEach(function (n) {
      const c = center(n);
      x0 = Math.min(x0, c[0]); y0 = Math.min(y0, c[1]); x1 = Math.max(x1, c[0]); y1 = Math.max(y1, c[1]);
    });
    const w = Math.max(x1 - x0 + 2 * CW, 6 * CW), h = Math.max(y1 - y0 + 4 * CH, 12 * CH);
    setView({ x: (x0 + x1) / 2 - w / 2, y: (y0 + y1) / 2 - h / 2, w: w, h: h });
  }

  // --- Selection and the side panel ---------------------------------------------
  function location(l) {
    return l ? l.file + ':' + l.line + ':' + l.column : '';
  }
  function excerptOf(l) {
    return l ? D.excerpts[l.file + ':' + l.line] : undefined;
  }
  function nodeLink(n, ports) {
    const li = el('li');
    const b = el('button', { type: 'button', class: 'node-link' }, G.nodes[n].id);
    b.addEventListener('click', function () { selectNode(n, true); });
    li.appendChild(b);
    if (ports !== undefined) li.appendChild(document.createTextNode(' ' + G.ports[ports]));
    return li;
  }
  function listSection(title, list, id) {
    panel.appendChild(el('h4', {}, title + ' (' + fmt(list.length) + ')'));
    const ul = el('ul', { id: id });
    list.slice(0, MAX_LISTED).forEach(function (c) { ul.appendChild(nodeLink(c[0], c[1])); });
    if (list.length > MAX_LISTED) ul.appendChild(el('li', { class: 'hint' }, 'and ' + fmt(list.length - MAX_LISTED) + ' more'));
    panel.appendChild(ul);
  }

  function showNodePanel() {
    clear(panel);
    const n = state.node;
    const m = marks.get(n);
    panel.appendChild(el('h3', {}, G.nodes[n].id));
    if (m && m.tags) m.tags.forEach(function (t) { panel.appendChild(el('p', { class: 'badge' }, t)); });
    if (m && m.entry) {
      panel.appendChild(el('h4', {}, 'Entry point'));
      const ul = el('ul');
      m.entry.forEach(function (r) { ul.appendChild(el('li', {}, r)); });
      panel.appendChild(ul);
    }
    if (m && m.jewel) {
      panel.appendChild(el('h4', {}, 'Crown jewel'));
      const ul = el('ul');
      m.jewel.forEach(function (r) { ul.appendChild(el('li', {}, r)); });
      panel.appendChild(ul);
    }
    listSection('Reaches', selected().out, 'reaches');
    listSection('Reached from', selected().inn, 'reached-from');
    const related = D.findings.map(function (f, i) { return [f, i]; }).filter(function (x) { return x[0].nodes.indexOf(n) >= 0; });
    if (related.length) {
      panel.appendChild(el('h4', {}, 'Findings (' + related.length + ')'));
      const ul = el('ul');
      related.slice(0, MAX_LISTED).forEach(function (x) {
        const li = el('li');
        const b = el('button', { type: 'button', class: 'sev-' + x[0].severity }, x[0].code + ' ' + x[0].title);
        b.addEventListener('click', function () { selectFinding(x[1]); });
        li.appendChild(b);
        ul.appendChild(li);
      });
      panel.appendChild(ul);
    }
  }

  function copyButton(text) {
    const b = el('button', { type: 'button', class: 'copy' }, 'Copy');
    b.addEventListener('click', function () {
      const done = function () { b.textContent = 'Copied'; };
      const fallback = function () {
        const t = el('textarea', { class: 'sr-only', 'aria-hidden': 'true' });
        t.value = text;
        body.appendChild(t);
        t.select();
        try { document.execCommand('copy'); done(); } catch (e) { b.textContent = 'Select and copy'; }
        body.removeChild(t);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
    return b;
  }

  function showFindingPanel(f) {
    clear(panel);
    panel.appendChild(el('p', {}, ''));
    panel.firstChild.appendChild(el('span', { class: 'badge sev-' + f.severity }, f.severity));
    panel.firstChild.appendChild(document.createTextNode(' ' + f.code + ' ' + f.name));
    panel.appendChild(el('h3', {}, f.title));
    if (f.suppressed) panel.appendChild(el('p', { class: 'hint' }, 'Accepted (' + f.suppressed.kind + '): ' + f.suppressed.justification));
    if (f.location) {
      panel.appendChild(el('p', { class: 'loc' }, location(f.location)));
      const x = excerptOf(f.location);
      if (x) panel.appendChild(el('pre', {}, x));
    }
    if (f.nodes.length) {
      panel.appendChild(el('h4', {}, f.edges.length ? 'Path' : 'Endpoints'));
      const ul = el('ul', { id: 'finding-nodes' });
      f.nodes.forEach(function (n) { ul.appendChild(nodeLink(n)); });
      panel.appendChild(ul);
    }
    if (f.evidence.length) {
      panel.appendChild(el('h4', {}, 'Evidence and the policies along it'));
      const ul = el('ul', { id: 'evidence' });
      f.evidence.forEach(function (e) {
        const li = el('li', {}, e.message);
        if (e.location) {
          li.appendChild(el('div', { class: 'loc' }, location(e.location)));
          const x = excerptOf(e.location);
          if (x) li.appendChild(el('pre', {}, x));
        }
        ul.appendChild(li);
      });
      panel.appendChild(ul);
    }
    panel.appendChild(el('h4', {}, 'Remediation'));
    panel.appendChild(el('p', {}, f.remediation.text));
    if (f.remediation.yaml) {
      const row = el('div', { class: 'copy-row' });
      row.appendChild(el('span', { class: 'hint' }, 'Policy YAML'));
      row.appendChild(copyButton(f.remediation.yaml));
      panel.appendChild(row);
      panel.appendChild(el('pre', { class: 'remediation' }, f.remediation.yaml));
    }
  }

  function openGroupsOf(nodes) {
    const groups = new Set(nodes.map(function (n) { return G.nodes[n].group; }));
    groups.forEach(function (g) { expand(g); });
  }

  function selectNode(n, center) {
    state.node = n; state.finding = -1; state.path = -1;
    openGroupsOf([n]);
    markRows();
    applyNodeClasses();
    redrawHighlight();
    showNodePanel();
    if (center) focusOn([n]);
  }
  function selectFinding(i) {
    state.finding = i; state.node = -1; state.path = -1;
    const f = D.findings[i];
    openGroupsOf(f.nodes);
    f.groups.forEach(function (g) { expand(g); });
    markRows();
    applyNodeClasses();
    redrawHighlight();
    showFindingPanel(f);
    focusOn(f.nodes.length ? f.nodes : [].concat.apply([], f.groups.map(function (g) { return G.groups[g].nodes; })));
  }
  function selectPath(i) {
    state.path = i; state.node = -1; state.finding = -1;
    const p = D.paths[i];
    openGroupsOf(p.hops);
    markRows();
    applyNodeClasses();
    redrawHighlight();
    clear(panel);
    panel.appendChild(el('h3', {}, 'Path (' + p.severity + ')'));
    const ul = el('ol');
    p.hops.forEach(function (h) { ul.appendChild(nodeLink(h)); });
    panel.appendChild(ul);
    focusOn(p.hops);
  }
  function clearSelection() {
    state.node = -1; state.finding = -1; state.path = -1;
    markRows();
    applyNodeClasses();
    redrawHighlight();
    clear(panel);
    panel.appendChild(el('p', { class: 'hint' }, D.kind === 'audit'
      ? 'Click a finding to see its path and evidence, or a workload to see what it reaches and what reaches it.'
      : 'Click a workload to see what it reaches and what reaches it.'));
  }

  function activate(evt) {
    const t = evt.target.closest ? evt.target : null;
    if (!t) return false;
    const node = t.closest('.node');
    if (node) { selectNode(Number(node.getAttribute('data-i')), false); return true; }
    const group = t.closest('.group.collapsed');
    if (group) { expand(Number(group.getAttribute('data-g'))); return true; }
    return false;
  }
  svg.addEventListener('click', function (evt) { activate(evt); });
  svg.addEventListener('keydown', function (evt) {
    if ((evt.key === 'Enter' || evt.key === ' ') && evt.target !== svg && activate(evt)) evt.preventDefault();
  });
  document.addEventListener('keydown', function (evt) {
    if (evt.key === 'Escape') clearSelection();
  });
  nsSelect.addEventListener('change', function () {
    state.ns = nsSelect.value;
    const gi = G.groups.findIndex(function (g) { return g.name === state.ns; });
    if (gi >= 0) {
      expand(gi);
      focusOn(G.groups[gi].nodes);
    }
    applyNodeClasses();
    filterFindings();
  });
  protoSelect.addEventListener('change', function () {
    state.proto = Number(protoSelect.value);
    drawBaseEdges();
    applyNodeClasses();
    redrawHighlight();
    if (state.node >= 0) showNodePanel();
  });
  cutBox.addEventListener('change', function () { state.showCut = cutBox.checked; redrawHighlight(); });
  find.addEventListener('keydown', function (evt) {
    if (evt.key !== 'Enter') return;
    const q = find.value.trim();
    let n = byId.has(q) ? byId.get(q) : -1;
    if (n < 0) n = G.nodes.findIndex(function (x) { return x.id.indexOf(q) >= 0; });
    if (n >= 0 && q !== '') selectNode(n, true);
  });

  // --- Findings table -----------------------------------------------------------
  const rows = [];
  const search = el('input', { id: 'find-finding', type: 'search', placeholder: 'search findings', 'aria-label': 'Search findings' });
  function markRows() {
    rows.forEach(function (r, i) {
      r.classList.toggle('selected', i === state.finding);
      r.setAttribute('aria-selected', String(i === state.finding));
    });
  }
  function filterFindings() {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    D.findings.forEach(function (f, i) {
      const text = (f.code + ' ' + f.name + ' ' + f.title + ' ' + f.endpoints.join(' ')).toLowerCase();
      const inNs = state.ns === '' || f.nodes.some(function (n) { return G.groups[G.nodes[n].group].name === state.ns; }) ||
        f.groups.some(function (g) { return G.groups[g].name === state.ns; });
      const show = state.sev.has(f.severity) && inNs && (q === '' || text.indexOf(q) >= 0);
      rows[i].hidden = !show;
      if (show) shown++;
    });
    const c = document.getElementById('findings-count');
    if (c) c.textContent = shown + ' of ' + D.findings.length + ' shown';
  }
  if (D.kind === 'audit') {
    const sec = el('section', { id: 'findings-section' });
    sec.appendChild(el('h2', {}, 'Findings (' + D.findings.length + ')'));
    const tools = el('div', { class: 'copy-row' });
    tools.appendChild(search);
    tools.appendChild(el('span', { id: 'findings-count', class: 'hint' }));
    sec.appendChild(tools);
    const table = el('table', { id: 'findings' });
    const head = el('thead');
    const hr = el('tr');
    ['Severity', 'Code', 'Finding', 'Endpoints'].forEach(function (h) { hr.appendChild(el('th', { scope: 'col' }, h)); });
    head.appendChild(hr);
    table.appendChild(head);
    const tb = el('tbody');
    D.findings.forEach(function (f, i) {
      const tr = el('tr', { tabindex: '0', 'data-code': f.code, 'data-index': i, 'aria-selected': 'false' });
      const sev = el('td');
      sev.appendChild(el('span', { class: 'badge sev-' + f.severity }, f.severity));
      tr.appendChild(sev);
      tr.appendChild(el('td', {}, f.code));
      tr.appendChild(el('td', {}, f.title + (f.suppressed ? ' (accepted)' : '')));
      tr.appendChild(el('td', { class: 'ep' }, f.endpoints.slice(0, 4).join(', ') + (f.endpoints.length > 4 ? ' …' : '')));
      tr.addEventListener('click', function () { selectFinding(i); });
      tr.addEventListener('keydown', function (evt) {
        if (evt.key === 'Enter' || evt.key === ' ') { evt.preventDefault(); selectFinding(i); }
      });
      rows.push(tr);
      tb.appendChild(tr);
    });
    table.appendChild(tb);
    sec.appendChild(table);
    if (!D.findings.length) sec.appendChild(el('p', { class: 'hint' }, 'No findings.'));
    body.appendChild(sec);
    search.addEventListener('input', filterFindings);
    filterFindings();
  }

  const foot = el('footer', {}, 'kubeseg ' + D.version + ' · ' + fmt(N) + ' endpoints in ' + fmt(G.groups.length) + ' groups · ' +
    fmt(G.pairs) + ' connections' + (aggregated ? ' · namespaces open on click' : '') +
    (G.groupEdgesTruncated ? ' · too many namespace-to-namespace connections to draw; select a workload or a finding' : ''));
  body.appendChild(foot);

  drawBaseEdges();
  applyNodeClasses();
  renderNodeSeverity();
  redrawHighlight();
  clearSelection();
  body.setAttribute('data-ready', '1');
}());
