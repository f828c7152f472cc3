// DPMP web UI.  Polls /api/v1/status and draws it.  Every piece of data
// reaches the page through textContent or a form value, never as markup:
// worker names and the like come from miners and are attacker-controlled.
'use strict';

(function () {
  const POLL_MS = 2000;
  const HISTORY_MAX = 1800;           // chart points: one hour at 2 s
  const TOKEN_KEY = 'dpmp_token';
  const COLORS = ['#2f6feb', '#e36209', '#1a7f37', '#8250df', '#bf3989',
                  '#0a7ea4', '#9a6700', '#cf222e'];

  let status = null;
  let config = null;
  const history = [];                 // {t, share: {key: x}, target: {key: y}}
  let weightsKeys = '';
  let weightsDirty = false;
  let schedDirty = false;

  // ---- DOM helpers -------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  // el('td', {class: 'num'}, 'text', childNode): text is always a text node.
  function el(tag, props) {
    const e = document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v === undefined || v === null) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = String(v);
        else if (k === 'value') e.value = String(v);
        else if (k === 'checked' || k === 'disabled' || k === 'required') e[k] = !!v;
        else e.setAttribute(k, String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === undefined || c === null) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number'
        ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function colorOf(i) { return COLORS[i % COLORS.length]; }

  // Writes only what changed: a poll that rewrote every cell would restart
  // a text selection and make the browser relayout the whole table.
  function setText(node, text) {
    text = String(text);
    if (node.textContent !== text) node.textContent = text;
  }

  function setTitle(node, title) {
    if (title === null || title === undefined) {
      if (node.hasAttribute('title')) node.removeAttribute('title');
    } else if (node.title !== title) {
      node.title = title;
    }
  }

  // Table rows keyed by id and updated in place.  A row, its cells and its
  // buttons live as long as the thing they show: a poll that rebuilt the
  // table under a click lost the click (and a test's element reference).
  // make(item) builds a row once; update(tr, item, i) refreshes it.
  function syncRows(body, items, keyOf, make, update) {
    const keys = items.map(function (it) { return String(keyOf(it)); });
    const wanted = new Set(keys);
    const old = new Map();
    // gone rows first, so that the rows kept need no moving: moving a row
    // takes the focus from a pool list open in it
    Array.from(body.rows).forEach(function (tr) {
      if (wanted.has(tr.dataset.key)) old.set(tr.dataset.key, tr);
      else tr.remove();
    });
    let prev = null;
    items.forEach(function (it, i) {
      const k = keys[i];
      let tr = old.get(k);
      if (tr) old.delete(k);
      else { tr = make(it); tr.dataset.key = k; }
      update(tr, it, i);
      const want = prev ? prev.nextSibling : body.firstChild;
      if (want !== tr) body.insertBefore(tr, want);
      prev = tr;
    });
  }

  function setMsg(id, text, ok) {
    const m = $(id);
    m.textContent = text || '';
    m.className = 'msg' + (text ? (ok ? ' ok' : ' err') : '');
  }

  // ---- formatting --------------------------------------------------------

  function fmtPct(x) {
    return (typeof x === 'number' && isFinite(x)) ? (x * 100).toFixed(1) + '%' : '–';
  }

  function fmtInt(n) {
    return (typeof n === 'number' && isFinite(n)) ? Math.round(n).toLocaleString('en-US') : '–';
  }

  function scaled(v, units, base) {
    let i = 0;
    while (Math.abs(v) >= base && i < units.length - 1) { v /= base; i++; }
    return Number(v.toPrecision(4)).toString() + units[i];
  }

  // Pool difficulties can be 0.00001: never round them to whole numbers.
  function fmtDiff(d) {
    if (typeof d !== 'number' || !isFinite(d)) return '–';
    if (d === 0) return '0';
    if (Math.abs(d) >= 1000) return scaled(d, ['', 'K', 'M', 'G', 'T', 'P', 'E'], 1000);
    return Number(d.toPrecision(6)).toString();
  }

  function fmtHash(h) {
    if (typeof h !== 'number' || !isFinite(h) || h <= 0) return '–';
    return scaled(h, [' H/s', ' kH/s', ' MH/s', ' GH/s', ' TH/s', ' PH/s', ' EH/s'], 1000);
  }

  function fmtDuration(s) {
    if (!isFinite(s) || s < 0) return '–';
    s = Math.floor(s);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }

  function ago(ms) {
    if (!ms || !status || !status.now_ms) return '–';
    return fmtDuration((status.now_ms - ms) / 1000) + ' ago';
  }

  // ---- HTTP --------------------------------------------------------------

  function getToken(ask) {
    let t = sessionStorage.getItem(TOKEN_KEY);
    if (!t || ask) {
      t = window.prompt('API token (http.token in the config) for changes:');
      if (!t) return null;
      sessionStorage.setItem(TOKEN_KEY, t);
    }
    return t;
  }

  async function send(method, path, body, token) {
    return fetch(path, {
      method: method,
      headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
  }

  // A change: asks for the token if there is none, and again once if the
  // one kept in this tab was refused.
  async function write(method, path, body) {
    if (status && status.writes_enabled === false)
      throw new Error('changes are disabled: no http.token is configured');
    let token = getToken(false);
    if (!token) throw new Error('a token is needed for changes');
    let r = await send(method, path, body, token);
    if (r.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      token = getToken(true);
      if (!token) throw new Error('a token is needed for changes');
      r = await send(method, path, body, token);
    }
    let j = {};
    try { j = await r.json(); } catch (e) { /* empty or not JSON */ }
    if (!r.ok) {
      if (r.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      throw new Error(j.error || ('HTTP ' + r.status));
    }
    return j;
  }

  // ---- pools -------------------------------------------------------------

  // "duplicate 3, stale 1": the pool's rejects on one side, for a tooltip.
  function rejectReasons(p, where) {
    const parts = (p.rejected_by_reason || []).filter(function (r) {
      return r.where === where && r.count > 0;
    }).map(function (r) { return r.reason + ' ' + fmtInt(r.count); });
    return parts.length ? parts.join(', ') : null;
  }

  function makePoolRow() {
    const c = {};
    c.swatch = el('span', { class: 'swatch' });
    c.key = el('strong');
    c.name = el('span', { class: 'muted' });
    c.state = el('span', { class: 'badge' });
    c.miners = el('td', { class: 'num' });
    c.weight = el('td', { class: 'num' });
    c.fill = el('div', { class: 'fill' });
    c.mark = el('div', { class: 'target', title: 'target' });
    c.shareText = el('div', { class: 'share-text' });
    c.accepted = el('td', { class: 'num' });
    c.rejLocal = el('td', { class: 'num rej-local' });
    c.rejPool = el('td', { class: 'num rej-pool' });
    c.accDiff = el('td', { class: 'num' });
    c.diff = el('td', { class: 'num' });
    const tr = el('tr', null,
      el('td', null, c.swatch, c.key, ' ', c.name),
      el('td', null, c.state),
      c.miners, c.weight,
      el('td', { class: 'share' }, el('div', { class: 'bar' }, c.fill, c.mark), c.shareText),
      c.accepted, c.rejLocal, c.rejPool, c.accDiff, c.diff);
    tr.cellsByName = c;
    return tr;
  }

  function updatePoolRow(tr, p, i) {
    const c = tr.cellsByName;
    const st = p.state || {};
    const up = !!st.up;
    const target = p.target_share || 0, actual = p.actual_share || 0;
    if (c.swatch.style.background !== colorOf(i)) c.swatch.style.background = colorOf(i);
    setText(c.key, st.key);
    setText(c.name, st.name && st.name !== st.key ? st.name : '');
    setText(c.state, !st.enabled ? 'disabled' : (up ? 'up' : 'down'));
    const cls = 'badge ' + (up ? 'up' : 'down');
    if (c.state.className !== cls) c.state.className = cls;
    setText(c.miners, fmtInt(st.miners_assigned));
    setText(c.weight, fmtDiff(p.weight));
    c.fill.style.width = Math.max(0, Math.min(100, actual * 100)) + '%';
    c.mark.style.left = 'calc(' + Math.max(0, Math.min(100, target * 100)) + '% - 1px)';
    setText(c.shareText, fmtPct(target) + ' target · ' + fmtPct(actual) + ' actual');
    setText(c.accepted, fmtInt(p.accepted));
    setText(c.rejLocal, fmtInt(p.rejected_local));
    setTitle(c.rejLocal, rejectReasons(p, 'local'));
    setText(c.rejPool, fmtInt(p.rejected_pool));
    setTitle(c.rejPool, rejectReasons(p, 'pool'));
    setText(c.accDiff, fmtDiff(p.accepted_difficulty));
    setText(c.diff, up ? fmtDiff(st.difficulty) : '–');
  }

  function renderPools() {
    syncRows($('pools').tBodies[0], status.pools,
      function (p) { return p.state.key; }, makePoolRow, updatePoolRow);
  }

  // ---- chart -------------------------------------------------------------

  function record() {
    const point = { t: Date.now(), share: {}, target: {} };
    status.pools.forEach(function (p) {
      const k = p.state.key;
      point.share[k] = p.actual_share || 0;
      point.target[k] = p.target_share || 0;
    });
    history.push(point);
    if (history.length > HISTORY_MAX) history.splice(0, history.length - HISTORY_MAX);
  }

  function drawChart() {
    const canvas = $('chart');
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (w === 0 || h === 0) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const left = 36, right = 8, top = 8, bottom = 18;
    const pw = w - left - right, ph = h - top - bottom;

    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#667085';
    ctx.strokeStyle = '#e3e6eb';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - ph * i / 4;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + pw, y); ctx.stroke();
      ctx.fillText((i * 25) + '%', 2, y + 4);
    }
    if (history.length < 2) {
      ctx.fillText('collecting…', left + 8, top + 16);
      return;
    }
    const t0 = history[0].t, t1 = history[history.length - 1].t;
    const span = Math.max(1, t1 - t0);
    const x = function (t) { return left + pw * (t - t0) / span; };
    const y = function (v) { return top + ph - ph * Math.max(0, Math.min(1, v)); };
    ctx.fillText(fmtDuration(span / 1000) + ' shown', left + 4, h - 4);

    status.pools.forEach(function (p, i) {
      const k = p.state.key;
      ctx.strokeStyle = colorOf(i);
      ctx.lineWidth = 1;
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      history.forEach(function (pt, j) {
        const v = pt.target[k] || 0;
        if (j === 0) ctx.moveTo(x(pt.t), y(v)); else ctx.lineTo(x(pt.t), y(v));
      });
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      history.forEach(function (pt, j) {
        const v = pt.share[k] || 0;
        if (j === 0) ctx.moveTo(x(pt.t), y(v)); else ctx.lineTo(x(pt.t), y(v));
      });
      ctx.stroke();
    });
  }

  function renderLegend() {
    const legend = $('legend');
    const items = status.pools.map(function (p, i) {
      const sw = el('span', { class: 'swatch' });
      sw.style.background = colorOf(i);
      return el('span', null, sw, p.state.key + (p.state.name && p.state.name !== p.state.key ? ' (' + p.state.name + ')' : ''));
    });
    legend.replaceChildren.apply(legend, items);
  }

  // ---- weights -----------------------------------------------------------

  function renderWeights() {
    const keys = status.pools.map(function (p) { return p.state.key; }).join('\u0000');
    const box = $('weights-fields');
    // rebuilt only when the pools change or nobody is typing in it
    if (keys === weightsKeys && (weightsDirty || box.contains(document.activeElement))) return;
    weightsKeys = keys;
    const fields = status.pools.map(function (p) {
      const k = p.state.key;
      const v = status.weights && k in status.weights ? status.weights[k] : p.weight;
      return el('label', null, 'Pool ' + k,
        el('input', { type: 'number', name: k, min: '0', step: 'any', value: v, required: true }));
    });
    box.replaceChildren.apply(box, fields);
  }

  async function applyWeights(ev) {
    ev.preventDefault();
    const weights = {};
    let bad = null;
    $('weights-fields').querySelectorAll('input').forEach(function (inp) {
      const v = Number(inp.value);
      if (inp.value === '' || !isFinite(v) || v < 0) bad = inp.name;
      weights[inp.name] = v;
    });
    if (bad !== null) { setMsg('weights-msg', 'weight of ' + bad + ' must be a number >= 0', false); return; }
    try {
      const r = await write('PUT', '/api/v1/weights', { weights: weights });
      weightsDirty = false;
      setMsg('weights-msg', 'Applied: ' + Object.keys(r.weights).map(function (k) {
        return k + '=' + r.weights[k];
      }).join(' '), true);
      poll(true);
    } catch (e) {
      setMsg('weights-msg', e.message, false);
    }
  }

  // ---- miners ------------------------------------------------------------

  function pinOf(worker) {
    const pins = status.pins || [];
    for (let i = 0; i < pins.length; i++)
      if (pins[i].worker === worker) return pins[i].pool;
    return null;
  }

  async function pin(worker, pool) {
    try {
      await write('POST', '/api/v1/pins', { worker: worker, pool: pool });
      setMsg('pins-msg', pool === null ? 'Unpinned ' + worker : 'Pinned ' + worker + ' to ' + pool, true);
      poll(true);
    } catch (e) {
      setMsg('pins-msg', e.message, false);
    }
  }

  // One button per row for the row's life: it reads "Unpin" or "Pin" and
  // acts on what the row showed when it was clicked.
  function makeMinerRow() {
    const c = {};
    c.workerText = document.createTextNode('');
    c.reconnecting = el('span', { class: 'muted' });
    c.worker = el('td', { class: 'worker' }, c.workerText, c.reconnecting);
    c.address = el('td');
    c.pool = el('td');
    c.diff = el('td', { class: 'num' });
    c.hashrate = el('td', { class: 'num' });
    c.accepted = el('td', { class: 'num' });
    c.rejLocal = el('td', { class: 'num rej-local' });
    c.rejPool = el('td', { class: 'num rej-pool' });
    c.last = el('td');
    c.badge = el('span', { class: 'badge pin' });
    c.select = el('select', { 'aria-label': 'pool' });
    c.button = el('button', { type: 'button', class: 'secondary' });
    c.pin = el('td', null, c.select, ' ', c.button);
    const tr = el('tr', null, c.worker, c.address, c.pool, c.diff, c.hashrate,
      c.accepted, c.rejLocal, c.rejPool, c.last, c.pin);
    tr.cellsByName = c;
    c.button.addEventListener('click', function () {
      if (tr.pinned !== null) pin(tr.worker, null);
      else pin(tr.worker, c.select.value);
    });
    return tr;
  }

  function updatePinCell(tr, c) {
    const pinned = pinOf(tr.worker);
    tr.pinned = pinned;
    setText(c.button, pinned !== null ? 'Unpin' : 'Pin');
    if (pinned !== null) {
      setText(c.badge, 'pinned ' + pinned);
      if (c.badge.parentNode !== c.pin) c.pin.insertBefore(c.badge, c.pin.firstChild);
      if (c.select.parentNode === c.pin) c.select.remove();
      return;
    }
    if (c.badge.parentNode === c.pin) c.badge.remove();
    if (c.select.parentNode !== c.pin) c.pin.insertBefore(c.select, c.pin.firstChild);
    // the options change only with the pools, and never under an open list
    const keys = status.pools.map(function (p) { return p.state.key; });
    const joined = keys.join('\u0000');
    if (c.select.optionKeys !== joined && document.activeElement !== c.select) {
      const chosen = c.select.value;
      c.select.replaceChildren.apply(c.select, keys.map(function (k) {
        return el('option', { value: k, text: k });
      }));
      if (keys.indexOf(chosen) >= 0) c.select.value = chosen;
      c.select.optionKeys = joined;
    }
  }

  function updateMinerRow(tr, m) {
    const c = tr.cellsByName;
    let acc = 0, rejLocal = 0, rejPool = 0;
    (m.work || []).forEach(function (w) {
      acc += w.accepted || 0;
      rejLocal += w.rejected_local || 0;
      rejPool += w.rejected_pool || 0;
    });
    tr.worker = m.worker;
    setTitle(c.worker, m.worker);
    if (c.workerText.data !== (m.worker || '(none)')) c.workerText.data = m.worker || '(none)';
    setText(c.reconnecting, m.connected ? '' : ' (reconnecting)');
    setText(c.address, m.address);
    setText(c.pool, m.pool || '–');
    setText(c.diff, fmtDiff(m.difficulty));
    setText(c.hashrate, fmtHash(m.hashrate));
    setText(c.accepted, fmtInt(acc));
    setText(c.rejLocal, fmtInt(rejLocal));
    setText(c.rejPool, fmtInt(rejPool));
    setText(c.last, ago(m.last_share_ms));
    updatePinCell(tr, c);
  }

  function renderMiners() {
    const miners = (status.miners || []).slice().sort(function (a, b) {
      return a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : a.id - b.id;
    });
    syncRows($('miners').tBodies[0], miners,
      function (m) { return m.id; }, makeMinerRow, updateMinerRow);
    $('miners-empty').classList.toggle('hidden', miners.length > 0);
  }

  // ---- configuration -----------------------------------------------------

  async function loadConfig() {
    try {
      const r = await fetch('/api/v1/config', { cache: 'no-store' });
      if (!r.ok) return;
      config = await r.json();
      $('config-json').textContent = JSON.stringify(config, null, 2);
      renderPoolForms();
    } catch (e) { /* the status poll reports connectivity */ }
  }

  function poolForm(key, pc) {
    const host = el('input', { type: 'text', name: 'host', value: pc.host, required: true });
    const port = el('input', { type: 'number', name: 'port', min: '1', max: '65535', step: '1', value: pc.port, required: true });
    const wallet = el('input', { type: 'text', name: 'wallet', value: pc.wallet, autocomplete: 'off' });
    const password = el('input', { type: 'password', name: 'password', placeholder: 'unchanged', autocomplete: 'new-password' });
    const enabled = el('input', { type: 'checkbox', name: 'enabled', checked: pc.enabled });
    const msg = el('p', { class: 'msg' });
    const form = el('form', null,
      el('label', null, 'Host', host),
      el('label', null, 'Port', port),
      el('label', null, 'Wallet (user)', wallet),
      el('label', null, 'Password', password),
      el('label', { class: 'check' }, enabled, 'Enabled'),
      el('button', { type: 'submit', text: 'Save pool ' + key }),
      msg);
    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      // only what changed; a masked password is never sent back
      const body = {};
      if (host.value !== pc.host) body.host = host.value;
      if (Number(port.value) !== pc.port) body.port = Number(port.value);
      if (wallet.value !== pc.wallet) body.wallet = wallet.value;
      if (password.value !== '') body.password = password.value;
      if (enabled.checked !== pc.enabled) body.enabled = enabled.checked;
      if (Object.keys(body).length === 0) {
        msg.textContent = 'Nothing changed'; msg.className = 'msg';
        return;
      }
      try {
        await write('PUT', '/api/v1/pools/' + encodeURIComponent(key), body);
        msg.textContent = 'Saved'; msg.className = 'msg ok';
        password.value = '';
        loadConfig();
      } catch (e) {
        msg.textContent = e.message; msg.className = 'msg err';
      }
    });
    return el('div', { class: 'card' },
      el('h4', { text: key + (pc.name && pc.name !== key ? ' · ' + pc.name : '') + (pc.chain ? ' (' + pc.chain + ')' : '') }),
      form);
  }

  function renderPoolForms() {
    const box = $('pool-forms');
    if (box.contains(document.activeElement)) return;
    const pools = (config && config.pools) || {};
    box.replaceChildren.apply(box, Object.keys(pools).sort().map(function (k) {
      return poolForm(k, pools[k]);
    }));
    if (!schedDirty && config && config.scheduler) {
      const f = $('sched-form');
      f.elements.slice_seconds.value = config.scheduler.slice_seconds;
      f.elements.min_switch_seconds.value = config.scheduler.min_switch_seconds;
    }
  }

  async function applyScheduler(ev) {
    ev.preventDefault();
    const f = $('sched-form');
    const body = {
      slice_seconds: Number(f.elements.slice_seconds.value),
      min_switch_seconds: Number(f.elements.min_switch_seconds.value),
    };
    try {
      await write('PUT', '/api/v1/scheduler', body);
      schedDirty = false;
      setMsg('sched-msg', 'Applied', true);
      loadConfig();
    } catch (e) {
      setMsg('sched-msg', e.message, false);
    }
  }

  // ---- status poll -------------------------------------------------------

  function renderHeader() {
    const conn = $('conn');
    conn.textContent = status.dataplane_connected ? 'dataplane connected' : 'dataplane not connected';
    conn.className = 'badge ' + (status.dataplane_connected ? 'up' : 'down');
    const n = (status.miners || []).filter(function (m) { return m.connected; }).length;
    $('summary').textContent = n + ' miner' + (n === 1 ? '' : 's') +
      ' · switches ' + fmtInt(status.switches) +
      ' · window ' + fmtDuration(status.window_s || 0) +
      (status.dataplane_connected ? ' · dataplane up ' + fmtDuration(status.dataplane_uptime_s) : '');
    $('version').textContent = 'dpmp ' + status.version + ' · controlplane up ' + fmtDuration(status.uptime_s);
    const disabled = status.writes_enabled === false;
    document.querySelectorAll('form button, td button').forEach(function (b) {
      b.disabled = disabled;
      b.title = disabled ? 'changes are disabled: no http.token is configured' : '';
    });
  }

  function showError(text) {
    const e = $('error');
    e.textContent = text || '';
    e.classList.toggle('hidden', !text);
  }

  let timer = null;
  let refreshes = 0;

  async function poll(once) {
    if (timer !== null && !once) timer = null;
    try {
      const r = await fetch('/api/v1/status', { cache: 'no-store' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      status = await r.json();
      showError('');
      if (!once) record();
      renderPools();
      renderLegend();
      renderWeights();
      renderMiners();
      renderHeader();
      drawChart();
      // how many polls the page has drawn: lets a test wait for a refresh
      // instead of sleeping
      document.body.dataset.refreshes = String(++refreshes);
    } catch (e) {
      showError('Cannot reach the controlplane: ' + e.message);
      const conn = $('conn');
      conn.textContent = 'controlplane unreachable';
      conn.className = 'badge down';
    }
    if (!once) timer = setTimeout(poll, POLL_MS);
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('weights-form').addEventListener('submit', applyWeights);
    $('weights-form').addEventListener('input', function () { weightsDirty = true; });
    $('forget-token').addEventListener('click', function () {
      sessionStorage.removeItem(TOKEN_KEY);
      setMsg('weights-msg', 'Token forgotten', true);
    });
    $('sched-form').addEventListener('submit', applyScheduler);
    $('sched-form').addEventListener('input', function () { schedDirty = true; });
    window.addEventListener('resize', function () { if (status) drawChart(); });
    loadConfig();
    poll(false);
  });
})();
