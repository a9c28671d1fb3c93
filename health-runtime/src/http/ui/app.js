// The status page: reads the published state from /health/events (Server-Sent Events) and the
// transitions from /health/history, and keeps the DOM in step without reloading.
//
// EventSource cannot send an Authorization header, so the stream is read with fetch() and parsed
// here. The bearer token lives in one variable of this closure: never in the URL, the DOM, a
// cookie or web storage. Every string from the server (names, messages) is untrusted and goes
// into the DOM through textContent only.
'use strict';

(function () {
  const STATUSES = ['critical', 'warning', 'unknown', 'healthy'];
  const RANK = { critical: 0, warning: 1, unknown: 2, healthy: 3 };
  const STATUS_TEXT = {
    critical: 'critical',
    warning: 'warning',
    unknown: 'unknown',
    healthy: 'healthy',
  };
  // Reconnect delays: doubled from the first up to the last, with jitter, reset by a state frame.
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  // The server sends a comment every 15 s; a stream silent for three of them is dead.
  const STREAM_SILENCE_MS = 45000;
  // Transitions kept per check on the page (the server keeps 128 by default).
  const KEEP_TRANSITIONS = 512;

  /**
   * A parser of the text/event-stream format (HTML Living Standard, "Server-sent events"):
   * lines ended by CRLF, LF or CR, possibly split anywhere across chunks; `event`, `data` (one
   * or more lines, joined by LF), `id` and `retry` fields; comments (lines starting with `:`);
   * a blank line dispatches the event. Events without data are dropped, as EventSource does.
   */
  class SseParser {
    constructor(onEvent, onComment) {
      this.onEvent = onEvent;
      this.onComment = onComment || function () {};
      this.buffer = '';
      this.searchFrom = 0;
      this.skipLf = false;
      this.eventType = '';
      this.data = [];
      this.lastEventId = '';
      this.retry = null;
    }

    push(chunk) {
      let text = chunk;
      if (this.skipLf && text.length > 0) {
        if (text[0] === '\n') text = text.slice(1);
        this.skipLf = false;
      }
      this.buffer += text;
      let start = 0;
      for (;;) {
        const cr = this.buffer.indexOf('\r', Math.max(start, this.searchFrom));
        const lf = this.buffer.indexOf('\n', Math.max(start, this.searchFrom));
        if (cr === -1 && lf === -1) break;
        let end;
        let next;
        if (cr !== -1 && (lf === -1 || cr < lf)) {
          end = cr;
          if (cr + 1 < this.buffer.length) {
            next = this.buffer[cr + 1] === '\n' ? cr + 2 : cr + 1;
          } else {
            // A CR at the end of a chunk: an LF opening the next one belongs to it.
            next = cr + 1;
            this.skipLf = true;
          }
        } else {
          end = lf;
          next = lf + 1;
        }
        this.line(this.buffer.slice(start, end));
        start = next;
        this.searchFrom = 0;
      }
      this.buffer = this.buffer.slice(start);
      this.searchFrom = this.buffer.length;
    }

    line(line) {
      if (line === '') {
        this.dispatch();
        return;
      }
      if (line[0] === ':') {
        this.onComment(line.slice(1).replace(/^ /, ''));
        return;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      switch (field) {
        case 'event':
          this.eventType = value;
          break;
        case 'data':
          this.data.push(value);
          break;
        case 'id':
          if (value.indexOf('\u0000') === -1) this.lastEventId = value;
          break;
        case 'retry':
          if (/^[0-9]+$/.test(value)) this.retry = Number(value);
          break;
        default:
          break;
      }
    }

    dispatch() {
      const type = this.eventType || 'message';
      const data = this.data;
      this.eventType = '';
      this.data = [];
      if (data.length === 0) return;
      this.onEvent({ type: type, data: data.join('\n'), lastEventId: this.lastEventId });
    }
  }

  // --- formatting -------------------------------------------------------------------------

  function trimZeros(text) {
    return text.indexOf('.') === -1 ? text : text.replace(/\.?0+$/, '');
  }

  function formatNumber(value) {
    if (typeof value !== 'number' || !isFinite(value)) return '';
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    if (abs >= 100) return value.toFixed(0);
    if (abs >= 10) return trimZeros(value.toFixed(1));
    if (abs >= 1) return trimZeros(value.toFixed(2));
    return trimZeros(value.toPrecision(2));
  }

  function formatDurationMs(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '–';
    if (ms < 1) return formatNumber(ms * 1000) + ' µs';
    if (ms < 1000) return formatNumber(ms) + ' ms';
    return formatNumber(ms / 1000) + ' s';
  }

  function formatSpan(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60) + ' s';
    const h = Math.floor(m / 60);
    if (h < 24) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  function formatAgo(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 1) return 'just now';
    return formatSpan(s) + ' ago';
  }

  function formatRatio(ratio) {
    if (typeof ratio !== 'number' || !isFinite(ratio)) return '–';
    // Floored, so that anything short of all the time never reads 100 %.
    return trimZeros((Math.floor(ratio * 10000) / 100).toFixed(2)) + ' %';
  }

  function formatClock(ms) {
    const date = new Date(ms);
    return date.toLocaleString(undefined, {
      year: 'numeric', month: 'short', day: 'numeric',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  function statusOf(value) {
    return Object.prototype.hasOwnProperty.call(RANK, value) ? value : 'unknown';
  }

  // --- DOM helpers ------------------------------------------------------------------------

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const name of Object.keys(attrs)) node.setAttribute(name, attrs[name]);
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function $(selector) {
    return document.querySelector(selector);
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function setAttr(node, name, value) {
    if (value === null || value === undefined) {
      if (node.hasAttribute(name)) node.removeAttribute(name);
    } else if (node.getAttribute(name) !== String(value)) {
      node.setAttribute(name, value);
    }
  }

  function badge(status, withField) {
    const node = el('span', { class: 'badge', 'data-status': status });
    node.append(el('span', { class: 'icon', 'aria-hidden': 'true' }));
    const label = el('span', { class: 'label' }, STATUS_TEXT[status]);
    if (withField) label.setAttribute('data-field', withField);
    node.append(label);
    return node;
  }

  function updateBadge(node, status) {
    setAttr(node, 'data-status', status);
    setText(node.querySelector('.label'), STATUS_TEXT[status]);
  }

  // --- state ------------------------------------------------------------------------------

  let token = null;
  let state = null;
  let stateAt = 0;
  // Server clock minus this clock, from the state's timestamp, for "ago" and the timelines.
  let clockOffset = 0;
  let windowSeconds = 3600;
  const history = new Map();
  // The newest transition of each check, by name.
  const newest = new Map();
  const rows = new Map();

  let generation = 0;
  let controller = null;
  let attempt = 0;
  let reconnectTimer = null;
  let reconnectAt = 0;
  let silenceTimer = null;
  let historyWanted = false;
  let lost = false;

  const ui = {};

  function serverNow() {
    return Date.now() + clockOffset;
  }

  // --- connection -------------------------------------------------------------------------

  function authHeaders(extra) {
    const headers = Object.assign({}, extra || {});
    if (token !== null) headers.Authorization = 'Bearer ' + token;
    return headers;
  }

  function setConnection(kind, text) {
    const previous = ui.connection.getAttribute('data-connection');
    // Announced once per change, not with every second of the countdown.
    if (previous === 'live' && kind === 'reconnecting') {
      lost = true;
      announce('Disconnected from the server; reconnecting.');
    } else if (lost && kind === 'live') {
      lost = false;
      announce('Reconnected.');
    }
    setAttr(ui.connection, 'data-connection', kind);
    setText(ui.connectionText, text);
    setAttr(document.body, 'data-stale', kind === 'live' ? null : 'true');
  }

  function connect() {
    const mine = ++generation;
    if (controller) controller.abort();
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    controller = new AbortController();
    const signal = controller.signal;
    historyWanted = true;
    setConnection('connecting', 'connecting…');
    readStream(mine, signal).then(
      function () { streamEnded(mine, 'the stream ended'); },
      function (error) { streamEnded(mine, error && error.message ? error.message : 'error'); }
    );
  }

  async function readStream(mine, signal) {
    const response = await fetch('/health/events', {
      headers: authHeaders({ Accept: 'text/event-stream' }),
      cache: 'no-store',
      credentials: 'omit',
      signal: signal,
    });
    if (!response.ok || !response.body) throw new Error('HTTP ' + response.status);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser(function (event) {
      if (mine === generation) onEvent(event);
    });
    watchSilence(mine);
    for (;;) {
      const result = await reader.read();
      if (mine !== generation) {
        reader.cancel().catch(function () {});
        return;
      }
      if (result.done) break;
      watchSilence(mine);
      parser.push(decoder.decode(result.value, { stream: true }));
    }
    parser.push(decoder.decode());
  }

  function watchSilence(mine) {
    if (silenceTimer) clearTimeout(silenceTimer);
    silenceTimer = setTimeout(function () {
      if (mine === generation && controller) controller.abort();
    }, STREAM_SILENCE_MS);
  }

  function streamEnded(mine, why) {
    if (mine !== generation) return;
    if (silenceTimer) clearTimeout(silenceTimer);
    attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, attempt - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    reconnectAt = Date.now() + delay;
    ui.connection.title = why;
    showReconnecting();
    reconnectTimer = setTimeout(connect, delay);
  }

  function showReconnecting() {
    const left = Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000));
    setConnection('reconnecting', 'disconnected — reconnecting in ' + left + ' s');
  }

  function onEvent(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (event.type === 'state') {
      attempt = 0;
      ui.connection.title = '';
      setConnection('live', 'live');
      applyState(data);
      if (historyWanted) {
        historyWanted = false;
        loadHistory(generation);
      }
    } else if (event.type === 'transition') {
      applyTransition(data);
    }
  }

  async function loadHistory(mine) {
    let body;
    try {
      const response = await fetch('/health/history', {
        headers: authHeaders({ Accept: 'application/json' }),
        cache: 'no-store',
        credentials: 'omit',
      });
      if (!response.ok) return;
      body = await response.json();
    } catch (error) {
      return;
    }
    if (mine !== generation || !body || typeof body.checks !== 'object') return;
    for (const name of Object.keys(body.checks)) {
      const fetched = Array.isArray(body.checks[name].transitions)
        ? body.checks[name].transitions : [];
      // Transitions that arrived on the stream while the history was on its way stay.
      history.set(name, merge(fetched, history.get(name) || []));
    }
    renderTimelines();
  }

  function transitionKey(t) {
    return t.at + '|' + t.from + '|' + t.to;
  }

  function merge(a, b) {
    const seen = new Map();
    for (const t of a.concat(b)) {
      if (t && typeof t.at === 'string' && !seen.has(transitionKey(t))) {
        seen.set(transitionKey(t), Object.assign({ ms: Date.parse(t.at) }, t));
      }
    }
    const all = Array.from(seen.values()).filter(function (t) { return isFinite(t.ms); });
    all.sort(function (x, y) { return x.ms - y.ms; });
    return all.slice(-KEEP_TRANSITIONS);
  }

  function applyTransition(t) {
    if (!t || typeof t.check !== 'string') return;
    history.set(t.check, merge(history.get(t.check) || [], [t]));
    announce(t.check + ' is now ' + STATUS_TEXT[statusOf(t.to)] +
      ' (was ' + STATUS_TEXT[statusOf(t.from)] + ')' +
      (typeof t.message === 'string' && t.message ? ': ' + t.message : ''));
    // State frames come at most a few times a second; the transition repaints its row now.
    const at = Date.parse(t.at);
    const known = newest.get(t.check);
    if (isFinite(at) && (!known || at > known.ms)) newest.set(t.check, Object.assign({ ms: at }, t));
    if (state) {
      renderChecks();
    } else {
      const row = rows.get(t.check);
      if (row) renderTimeline(row);
    }
  }

  // A check as the state has it, or as a newer transition has it until the state catches up.
  function latest(name, check) {
    const t = newest.get(name);
    const ran = typeof check.last_updated === 'string' ? Date.parse(check.last_updated) : NaN;
    if (!t || (isFinite(ran) && ran >= t.ms)) return check;
    const update = { status: t.to, last_updated: t.at };
    if (typeof t.duration_ms === 'number') update.duration_ms = t.duration_ms;
    if ('message' in t) update.message = typeof t.message === 'string' ? t.message : '';
    if ('value' in t) update.value = t.value;
    return Object.assign({}, check, update);
  }

  function announce(text) {
    const line = el('p', null, text);
    ui.announcer.append(line);
    while (ui.announcer.childElementCount > 5) ui.announcer.firstElementChild.remove();
  }

  // --- rendering --------------------------------------------------------------------------

  function applyState(next) {
    if (!next || typeof next.report !== 'object' || next.report === null) return;
    state = next;
    stateAt = Date.now();
    const at = Date.parse(next.report.timestamp);
    if (isFinite(at)) clockOffset = at - stateAt;
    renderHeader();
    renderAccess();
    renderChecks();
    renderProbes();
    renderServices();
  }

  function renderHeader() {
    const report = state.report;
    const overall = statusOf(report.overall_status);
    setAttr(ui.overall, 'data-overall', overall);
    updateBadge(ui.overallBadge, overall);
    setText(ui.version, report.version ? 'v' + report.version : '');
    const draining = state.draining === true;
    setAttr(ui.draining, 'data-draining', String(draining));
    setText(ui.draining, draining ? 'draining: shutting down' : 'not draining');
    setText(ui.timestamp, typeof report.timestamp === 'string' ? report.timestamp : '–');
    if (typeof report.timestamp === 'string') setAttr(ui.timestamp, 'datetime', report.timestamp);
    document.title = STATUS_TEXT[overall] + ' · Health';
    renderClock();
  }

  function renderAccess() {
    const withheld = state.details !== true;
    ui.withheld.hidden = !withheld;
    if (withheld) {
      const hint = typeof state.withheld === 'string' ? state.withheld : '';
      setText(ui.withheld, (token !== null
        ? 'The token was not accepted: messages and values stay withheld'
        : 'Messages and values are withheld') + (hint ? ' (' + hint + ').' : '.'));
    }
    if (token === null) {
      setText(ui.tokenState, 'No token: statuses only. A token stays in this tab\u2019s memory only.');
    } else if (withheld) {
      setText(ui.tokenState, 'A token is held in memory, but it does not show details.');
    } else {
      setText(ui.tokenState, 'Details shown. The token is held in this tab\u2019s memory only.');
    }
  }

  function checksInOrder() {
    const metrics = state.report.metrics && typeof state.report.metrics === 'object'
      ? state.report.metrics : {};
    const list = Object.keys(metrics).map(function (name) {
      return Object.assign({}, latest(name, metrics[name]), { name: name });
    });
    list.sort(function (a, b) {
      const rank = RANK[statusOf(a.status)] - RANK[statusOf(b.status)];
      if (rank !== 0) return rank;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    return list;
  }

  function renderChecks() {
    const list = checksInOrder();
    const names = new Set(list.map(function (c) { return c.name; }));
    for (const [name, row] of rows) {
      if (!names.has(name)) {
        row.root.remove();
        rows.delete(name);
      }
    }
    const counts = { critical: 0, warning: 0, unknown: 0, healthy: 0 };
    list.forEach(function (check, index) {
      let row = rows.get(check.name);
      if (!row) {
        row = createRow(check.name);
        rows.set(check.name, row);
      }
      counts[statusOf(check.status)] += 1;
      updateRow(row, check);
      if (ui.checks.children[index] !== row.root) {
        ui.checks.insertBefore(row.root, ui.checks.children[index] || null);
      }
    });
    ui.noChecks.hidden = list.length > 0;
    setText(ui.noChecks, 'No checks are registered.');
    const summary = STATUSES.filter(function (s) { return counts[s] > 0; })
      .map(function (s) { return counts[s] + ' ' + STATUS_TEXT[s]; });
    setText(ui.checkCount, list.length === 0 ? '' : '(' + summary.join(', ') + ')');
  }

  function createRow(name) {
    const root = el('li', { class: 'check', 'data-check': name });
    const head = el('div', { class: 'check-head' });
    const status = badge('unknown', 'status');
    const title = el('h3', { class: 'name', 'data-field': 'name' }, name);
    const tags = el('ul', { class: 'tags', 'data-field': 'tags', 'aria-label': 'groups and service' });
    head.append(status, title, tags);

    const measure = el('div', { class: 'measure', 'data-field': 'measure' });
    const bar = el('div', { class: 'bar', role: 'meter', 'aria-valuemin': '0' });
    bar.setAttribute('aria-label', name + ': value against threshold');
    const fill = el('span', { class: 'fill' });
    const limit = el('span', { class: 'limit', 'aria-hidden': 'true' });
    bar.append(fill, limit);
    const figures = el('span', { class: 'figures' });
    figures.append(el('span', { class: 'figure-label' }, 'value '));
    const value = el('span', { class: 'value', 'data-field': 'value' });
    const threshold = el('span', { class: 'threshold', 'data-field': 'threshold' });
    figures.append(value, threshold);
    measure.append(bar, figures);

    const message = el('p', { class: 'message', 'data-field': 'message' });

    const meta = el('dl', { class: 'meta' });
    function fact(label, field, tag) {
      const wrap = el('div', { class: 'fact' });
      const dd = el('dd');
      const valueNode = el(tag || 'span', { 'data-field': field });
      dd.append(valueNode);
      wrap.append(el('dt', null, label), dd);
      meta.append(wrap);
      return { wrap: wrap, node: valueNode };
    }
    const lastRun = fact('last run', 'last-run', 'time');
    const duration = fact('took', 'duration');
    const failures = fact('failures in a row', 'failures');
    const up1h = fact('uptime 1 h', 'uptime-1h');
    const up24h = fact('uptime 24 h', 'uptime-24h');

    const timeline = el('div', { class: 'timeline', 'data-field': 'timeline', role: 'img' });
    const track = el('div', { class: 'track' });
    const axis = el('div', { class: 'axis', 'aria-hidden': 'true' });
    const axisStart = el('span', null, '−1 h');
    axis.append(axisStart, el('span', null, 'now'));
    timeline.append(track, axis);

    root.append(head, measure, message, meta, timeline);
    return {
      name: name, root: root, status: status, tags: tags, tagsKey: null,
      measure: measure, bar: bar, fill: fill, limit: limit, value: value, threshold: threshold,
      message: message, lastRun: lastRun, duration: duration, failures: failures,
      up1h: up1h, up24h: up24h, timeline: timeline, track: track, axisStart: axisStart,
      current: 'unknown', lastRunMs: null,
    };
  }

  function updateRow(row, check) {
    const status = statusOf(check.status);
    row.current = status;
    setAttr(row.root, 'data-status', status);
    setAttr(row.root, 'data-informational', check.informational === true ? 'true' : 'false');
    updateBadge(row.status, status);

    const groups = Array.isArray(check.groups) ? check.groups.map(String) : [];
    const service = typeof check.service === 'string' ? check.service : null;
    const key = JSON.stringify([groups, service, check.informational === true]);
    if (key !== row.tagsKey) {
      row.tagsKey = key;
      row.tags.replaceChildren();
      for (const group of groups) {
        const tag = el('li', { class: 'tag group', 'data-group': group });
        tag.append(el('span', { class: 'visually-hidden' }, 'group '), document.createTextNode(group));
        row.tags.append(tag);
      }
      if (service !== null) {
        const tag = el('li', { class: 'tag service', 'data-service': service });
        tag.append(el('span', { class: 'visually-hidden' }, 'service '), document.createTextNode(service));
        row.tags.append(tag);
      }
      if (check.informational === true) {
        row.tags.append(el('li', {
          class: 'tag informational',
          title: 'informational: left out of the overall status',
        }, 'informational'));
      }
    }

    const value = typeof check.value === 'number' && isFinite(check.value) ? check.value : null;
    const threshold = typeof check.threshold === 'number' && isFinite(check.threshold)
      ? check.threshold : null;
    row.measure.hidden = value === null;
    if (value === null) {
      setText(row.value, '');
      setText(row.threshold, '');
      setAttr(row.value, 'data-value', null);
      setAttr(row.bar, 'aria-valuenow', null);
      setAttr(row.bar, 'aria-valuemax', null);
      setAttr(row.bar, 'aria-valuetext', null);
    } else {
      setText(row.value, formatNumber(value));
      setAttr(row.value, 'data-value', String(value));
      setText(row.threshold, threshold === null ? '' : ' / threshold ' + formatNumber(threshold));
      row.bar.hidden = threshold === null;
      // Both the value and the threshold on one scale: 0-100 when both fit in it.
      const top = threshold !== null && value >= 0 && value <= 100 && threshold > 0 && threshold <= 100
        ? 100 : Math.max(Math.abs(value), Math.abs(threshold || 0)) * 1.25 || 1;
      setAttr(row.bar, 'aria-valuemax', formatNumber(top));
      setAttr(row.bar, 'aria-valuenow', String(Math.min(Math.max(value, 0), top)));
      setAttr(row.bar, 'aria-valuetext', formatNumber(value) +
        (threshold === null ? '' : ' against a threshold of ' + formatNumber(threshold)));
      row.fill.style.width = (Math.min(Math.max(value / top, 0), 1) * 100).toFixed(2) + '%';
      row.limit.hidden = threshold === null;
      if (threshold !== null) {
        row.limit.style.left = (Math.min(Math.max(threshold / top, 0), 1) * 100).toFixed(2) + '%';
      }
    }

    const message = typeof check.message === 'string' ? check.message : '';
    setText(row.message, message);
    row.message.hidden = message === '';

    const lastRun = typeof check.last_updated === 'string' ? Date.parse(check.last_updated) : NaN;
    row.lastRunMs = isFinite(lastRun) ? lastRun : null;
    setAttr(row.lastRun.node, 'datetime', row.lastRunMs === null ? null : check.last_updated);
    setAttr(row.lastRun.node, 'title', row.lastRunMs === null ? null : formatClock(row.lastRunMs));
    renderAgo(row);
    setText(row.duration.node, formatDurationMs(check.duration_ms));
    row.duration.wrap.hidden = row.lastRunMs === null;
    const failures = typeof check.consecutive_failures === 'number' ? check.consecutive_failures : 0;
    setText(row.failures.node, String(failures));
    row.failures.wrap.hidden = failures === 0;

    const uptime = state.uptime && state.uptime[row.name] ? state.uptime[row.name] : {};
    setText(row.up1h.node, formatRatio(uptime['1h']));
    setText(row.up24h.node, formatRatio(uptime['24h']));

    renderTimeline(row);
  }

  function renderAgo(row) {
    if (row.lastRunMs === null) {
      setText(row.lastRun.node, 'not yet');
    } else {
      setText(row.lastRun.node, formatAgo(serverNow() - row.lastRunMs));
    }
  }

  // The check's status over the chosen window, as coloured segments on a track. A process
  // younger than the window has nothing to show before it started: the track begins there.
  function renderTimeline(row) {
    const now = serverNow();
    const span = windowSeconds * 1000;
    const started = state && typeof state.report.uptime_seconds === 'number'
      ? stateAt + clockOffset - state.report.uptime_seconds * 1000 : now - span;
    const clipped = started > now - span;
    const from = clipped ? started : now - span;
    const width = Math.max(1, now - from);
    const transitions = history.get(row.name) || [];
    let status = null;
    const inWindow = [];
    for (const t of transitions) {
      if (t.ms <= from) status = statusOf(t.to);
      else if (t.ms <= now) inWindow.push(t);
    }
    if (status === null) status = inWindow.length > 0 ? statusOf(inWindow[0].from) : row.current;

    // Each segment knows the transition that opened it, whose message explains it.
    const segments = [];
    let at = from;
    let cause = null;
    for (const t of inWindow) {
      if (t.ms > at) segments.push({ from: at, to: t.ms, status: status, cause: cause });
      status = statusOf(t.to);
      at = t.ms;
      cause = t;
    }
    segments.push({ from: at, to: now, status: status, cause: cause });

    function percent(ms) {
      return (Math.min(Math.max((ms - from) / width, 0), 1) * 100).toFixed(3) + '%';
    }
    const time = {};
    const nodes = [];
    for (const segment of segments) {
      time[segment.status] = (time[segment.status] || 0) + (segment.to - segment.from);
      const node = el('span', { class: 'segment', 'data-status': segment.status });
      node.style.left = percent(segment.from);
      node.style.width = (((segment.to - segment.from) / width) * 100).toFixed(3) + '%';
      let title = STATUS_TEXT[segment.status] + ' from ' + formatClock(segment.from) +
        ' to ' + (segment.to >= now ? 'now' : formatClock(segment.to));
      if (segment.cause && typeof segment.cause.message === 'string' && segment.cause.message) {
        title += ': ' + segment.cause.message;
      }
      node.title = title;
      nodes.push(node);
    }
    for (const t of inWindow) {
      const tick = el('span', { class: 'tick', 'data-status': statusOf(t.to) });
      tick.style.left = percent(t.ms);
      nodes.push(tick);
    }
    row.track.replaceChildren.apply(row.track, nodes);

    const share = STATUSES.filter(function (s) { return time[s] > 0; })
      .map(function (s) { return STATUS_TEXT[s] + ' ' + formatRatio(time[s] / width); });
    const over = clipped
      ? 'since the process started ' + formatAgo(now - started)
      : 'over the last ' + (windowSeconds === 3600 ? 'hour' : 'day');
    setAttr(row.timeline, 'aria-label', row.name + ' ' + over + ': ' + share.join(', ') + '; ' +
      inWindow.length + (inWindow.length === 1 ? ' transition' : ' transitions'));
    setAttr(row.timeline, 'data-transitions', String(inWindow.length));
    setText(row.axisStart, clipped
      ? 'started ' + formatAgo(now - started)
      : windowSeconds === 3600 ? '−1 h' : '−24 h');
  }

  function renderTimelines() {
    for (const row of rows.values()) renderTimeline(row);
  }

  function code(text) {
    return el('code', null, text);
  }

  function renderProbes() {
    const probes = Array.isArray(state.probes) ? state.probes : [];
    const key = JSON.stringify(probes);
    if (key === ui.probesKey) return;
    ui.probesKey = key;
    const trs = probes.map(function (probe) {
      const group = String(probe.group);
      const status = statusOf(probe.status);
      const tr = el('tr', { 'data-probe': group, 'data-status': status });
      tr.append(el('th', { scope: 'row' }, group));
      const statusCell = el('td');
      statusCell.append(badge(status, 'status'),
        el('span', { class: 'serving', 'data-field': 'serving' },
          probe.serving === true ? 'SERVING' : 'NOT_SERVING'));
      tr.append(statusCell);
      const grpc = el('td', { 'data-field': 'grpc', 'data-label': 'gRPC' });
      for (const name of Array.isArray(probe.grpc) ? probe.grpc : []) {
        const node = code(name === '' ? '""' : String(name));
        if (name === '') node.title = 'the empty service name';
        grpc.append(node, ' ');
      }
      const http = el('td', { 'data-field': 'http', 'data-label': 'HTTP' });
      for (const path of Array.isArray(probe.http) ? probe.http : []) http.append(code(String(path)), ' ');
      const checks = el('td', { 'data-field': 'checks', 'data-label': 'checks' },
        (Array.isArray(probe.checks) ? probe.checks : []).map(String).join(', '));
      tr.append(grpc, http, checks);
      return tr;
    });
    ui.probes.replaceChildren.apply(ui.probes, trs);
  }

  function renderServices() {
    const services = state.services && typeof state.services === 'object' ? state.services : {};
    const key = JSON.stringify(services);
    if (key === ui.servicesKey) return;
    ui.servicesKey = key;
    const nodes = [];
    for (const name of Object.keys(services).sort()) {
      const wrap = el('div', { class: 'service', 'data-service': name });
      wrap.append(el('dt', null, name));
      const list = Array.isArray(services[name]) ? services[name] : [];
      wrap.append(el('dd', null, list.map(String).join(', ')));
      nodes.push(wrap);
    }
    ui.services.replaceChildren.apply(ui.services, nodes);
    ui.noServices.hidden = nodes.length > 0;
  }

  // Once a second: the clocks that move without a new state.
  function renderClock() {
    if (state && typeof state.report.uptime_seconds === 'number') {
      const live = ui.connection.getAttribute('data-connection') === 'live';
      const elapsed = live ? (Date.now() - stateAt) / 1000 : 0;
      setText(ui.uptime, formatSpan(state.report.uptime_seconds + elapsed));
    }
    for (const row of rows.values()) renderAgo(row);
    if (reconnectTimer) showReconnecting();
  }

  // --- details: the token -----------------------------------------------------------------

  function withoutDetails() {
    if (!state) return;
    const report = Object.assign({}, state.report, { metrics: {} });
    for (const name of Object.keys(state.report.metrics || {})) {
      report.metrics[name] = Object.assign({}, state.report.metrics[name],
        { message: '', value: null, threshold: null });
    }
    applyState(Object.assign({}, state, { report: report, details: false, withheld: '' }));
  }

  function stripHistory() {
    for (const [name, list] of history) {
      history.set(name, list.map(function (t) {
        return { at: t.at, ms: t.ms, from: t.from, to: t.to, duration_ms: t.duration_ms };
      }));
    }
  }

  function useToken(event) {
    event.preventDefault();
    const value = ui.tokenInput.value.trim();
    ui.tokenInput.value = '';
    if (value === '') return;
    token = value;
    ui.forget.disabled = false;
    setText(ui.tokenState, 'Checking the token…');
    connect();
  }

  function forget() {
    token = null;
    ui.tokenInput.value = '';
    ui.forget.disabled = true;
    // Announcements quote messages.
    ui.announcer.replaceChildren();
    newest.clear();
    stripHistory();
    withoutDetails();
    connect();
  }

  function init() {
    ui.overall = $('[data-overall]');
    ui.overallBadge = $('[data-field="overall-badge"]');
    ui.version = $('[data-field="version"]');
    ui.uptime = $('[data-field="uptime"]');
    ui.draining = $('[data-field="draining"]');
    ui.connection = $('[data-connection]');
    ui.connectionText = $('[data-field="connection"]');
    ui.tokenForm = $('[data-form="token"]');
    ui.tokenInput = $('#token');
    ui.forget = $('[data-action="forget"]');
    ui.tokenState = $('[data-field="token-state"]');
    ui.withheld = $('[data-field="withheld"]');
    ui.checks = $('[data-list="checks"]');
    ui.checkCount = $('[data-field="check-count"]');
    ui.noChecks = $('[data-field="no-checks"]');
    ui.probes = $('[data-list="probes"]');
    ui.services = $('[data-list="services"]');
    ui.noServices = $('[data-field="no-services"]');
    ui.timestamp = $('[data-field="timestamp"]');
    ui.announcer = $('[data-field="announcer"]');

    ui.tokenForm.addEventListener('submit', useToken);
    ui.forget.addEventListener('click', forget);
    for (const radio of document.querySelectorAll('input[name="window"]')) {
      radio.addEventListener('change', function () {
        if (radio.checked) {
          windowSeconds = Number(radio.value);
          renderTimelines();
        }
      });
    }
    window.addEventListener('online', function () {
      if (reconnectTimer) connect();
    });
    setInterval(renderClock, 1000);
    // The timelines slide with time; a tenth of a pixel's worth of the day is plenty.
    setInterval(function () { if (state) renderTimelines(); }, 5000);
    connect();
  }

  // For tests of the parser in a browser; nothing here reads it.
  window.healthUi = Object.freeze({ SseParser: SseParser });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
