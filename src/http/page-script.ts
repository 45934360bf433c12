/**
 * The status page's script, inlined into the page and allowed by its CSP hash.
 *
 * Plain browser JavaScript kept as a string (String.raw: backslashes stay as
 * written; the text must hold no backtick and no dollar-brace). It is not a
 * TypeScript function serialised with toString(): a bundler's helpers (such as
 * esbuild's `__name`) would end up in the page, and the hash would then differ
 * between the compiled daemon and the tests.
 *
 * Every string that comes from the status document (job names, upstream error
 * text, schedules, warnings) reaches the DOM through textContent or an
 * attribute setter, never through innerHTML.
 */
export const STATUS_PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var REFRESH_MS = 10000;
  var FETCH_TIMEOUT_MS = 8000;
  // A browser clock off by more than this from the server's Date header is corrected for.
  var SKEW_TOLERANCE_MS = 2000;
  var STATES = { 'ok': 'ok', 'failing': 'failing', 'auth failed': 'auth-failed', 'never run': 'never-run' };
  var COLUMNS = [
    ['job-name', 'Job'], ['job-state', 'State'], ['job-schedule', 'Cadence'], ['job-last-run', 'Last run'],
    ['job-next-run', 'Next run'], ['job-rate', 'Success'], ['job-history', 'Last 24 h'], ['job-data-age', 'Data age'],
    ['job-error', 'Last error']
  ];
  var SVG_NS = 'http://www.w3.org/2000/svg';

  var view = {
    doc: null, fetchedAt: 0, skewMs: 0, error: null, timer: 0, inFlight: false
  };
  var byId = function (id) { return document.getElementById(id); };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svgEl(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    for (var name in attrs) node.setAttribute(name, String(attrs[name]));
    return node;
  }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function present(v) { return v !== undefined && v !== null && v !== ''; }

  /** 45s, 95s, 12m, 3h 5m, 2d 4h: precise where it matters, short elsewhere. */
  function duration(totalSeconds) {
    var s = Math.max(0, Math.round(totalSeconds));
    if (s < 100) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm';
    if (s < 86400) { var h = Math.floor(s / 3600); var m = Math.floor((s % 3600) / 60); return m ? h + 'h ' + m + 'm' : h + 'h'; }
    var d = Math.floor(s / 86400); var hh = Math.floor((s % 86400) / 3600);
    return hh ? d + 'd ' + hh + 'h' : d + 'd';
  }
  function millis(ms) {
    if (!isNum(ms)) return '-';
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
  }
  function bytes(n) {
    if (!isNum(n)) return null;
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }
  function pct(rate) {
    if (!isNum(rate)) return '-';
    var text = (rate * 100).toFixed(1);
    return (text.slice(-2) === '.0' ? text.slice(0, -2) : text) + '%';
  }
  function serverNow() { return Date.now() + view.skewMs; }
  function relative(iso, now) {
    var at = Date.parse(iso);
    if (!isFinite(at)) return '-';
    var seconds = (now - at) / 1000;
    if (Math.abs(seconds) < 1) return 'now';
    return seconds > 0 ? duration(seconds) + ' ago' : 'in ' + duration(-seconds);
  }
  function absolute(iso) {
    var at = new Date(iso);
    if (!isFinite(at.getTime())) return '';
    return at.toLocaleString() + ' (' + at.toISOString() + ')';
  }
  function hourLabel(iso) {
    var at = new Date(iso);
    if (!isFinite(at.getTime())) return '?';
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    var end = new Date(at.getTime() + 3600000);
    return pad(at.getHours()) + ':' + pad(at.getMinutes()) + '–' + pad(end.getHours()) + ':' + pad(end.getMinutes());
  }

  /** A relative time that tick() keeps current, with the absolute time as a tooltip. */
  function timeSpan(iso, className) {
    if (!present(iso)) return el('span', className + ' muted', '-');
    var span = el('span', className + ' rel', relative(iso, serverNow()));
    span.setAttribute('data-at', iso);
    span.title = absolute(iso);
    return span;
  }

  function sparkline(history) {
    if (!Array.isArray(history) || history.length === 0) return el('span', 'muted', '-');
    var BAR = 4, GAP = 2, H = 24, STUB = 3;
    var width = history.length * (BAR + GAP) - GAP;
    var ok = 0, fail = 0;
    var svg = svgEl('svg', { 'class': 'spark', width: width, height: H, viewBox: '0 0 ' + width + ' ' + H, role: 'img' });
    history.forEach(function (point, i) {
      var okN = isNum(point && point.ok) ? point.ok : 0;
      var failN = isNum(point && point.fail) ? point.fail : 0;
      ok += okN; fail += failN;
      var x = i * (BAR + GAP);
      var g = svgEl('g', { 'class': 'spark-bar' });
      var tip = svgEl('title', {});
      tip.textContent = hourLabel(point && point.start) + ': ' + (okN + failN === 0 ? 'no runs' : okN + ' ok, ' + failN + ' failed');
      g.appendChild(tip);
      if (okN + failN === 0) {
        g.appendChild(svgEl('rect', { 'class': 'spark-empty', x: x, y: H - STUB, width: BAR, height: STUB }));
      } else {
        // A single failure among many runs still gets a visible pixel of red.
        var failH = failN === 0 ? 0 : Math.max(2, Math.round((H * failN) / (okN + failN)));
        if (okN > 0 && failH > H - 2) failH = H - 2;
        if (okN > 0) g.appendChild(svgEl('rect', { 'class': 'spark-ok', x: x, y: failH, width: BAR, height: H - failH }));
        if (failH > 0) g.appendChild(svgEl('rect', { 'class': 'spark-fail', x: x, y: 0, width: BAR, height: failH }));
      }
      svg.appendChild(g);
    });
    svg.setAttribute('aria-label', 'last ' + history.length + ' h: ' + ok + ' ok, ' + fail + ' failed');
    return svg;
  }

  /** A cell and the one element holding its content (on a narrow screen the cell is a label | content grid). */
  function cell(row, key, label) {
    var td = el('td', key);
    td.setAttribute('data-label', label);
    var body = el('div', 'cell');
    td.appendChild(body);
    row.appendChild(td);
    return body;
  }

  function jobRow(job) {
    var tr = el('tr', 'job');
    var state = typeof job.state === 'string' ? job.state : 'unknown';
    var stateKey = STATES[state] || 'unknown';
    tr.setAttribute('data-job', String(job.name));
    tr.setAttribute('data-state', state);
    var cells = {};
    COLUMNS.forEach(function (c) { cells[c[0]] = cell(tr, c[0], c[1]); });

    cells['job-name'].appendChild(el('span', 'name', job.name));
    var written = [];
    if (isNum(job.lastKeysWritten)) written.push(job.lastKeysWritten + ' keys');
    if (bytes(job.lastBytesWritten)) written.push(bytes(job.lastBytesWritten));
    if (written.length) cells['job-name'].appendChild(el('span', 'sub keys', written.join(' · ')));

    cells['job-state'].appendChild(el('span', 'badge state-' + stateKey, state));

    cells['job-schedule'].appendChild(el('span', 'schedule', present(job.schedule) ? job.schedule : '-'));

    cells['job-last-run'].appendChild(timeSpan(job.lastRunAt, 'last-run'));
    if (isNum(job.lastDurationMs)) cells['job-last-run'].appendChild(el('span', 'sub duration', 'took ' + millis(job.lastDurationMs)));

    cells['job-next-run'].appendChild(timeSpan(job.nextRunAt, 'next-run'));

    var rate = el('span', 'rate-24h', pct(job.successRate24h));
    if (isNum(job.successRate24h) && job.successRate24h < 0.9) rate.className += ' low';
    rate.title = 'success rate over the last 24 hours';
    cells['job-rate'].appendChild(rate);
    var rate1h = el('span', 'sub rate-1h', '1 h ' + pct(job.successRate1h));
    rate1h.title = 'success rate over the last hour';
    cells['job-rate'].appendChild(rate1h);
    if (isNum(job.runs24h)) {
      var runs = el('span', 'sub runs', job.runs24h + (job.runs24h === 1 ? ' run' : ' runs'));
      runs.title = 'runs in the last 24 hours';
      cells['job-rate'].appendChild(runs);
    }

    cells['job-history'].appendChild(sparkline(job.history));

    var age = el('span', 'data-age', '-');
    if (isNum(job.dataAgeSeconds)) {
      // While refreshes fail the data only gets older: say so.
      if (state === 'failing' || state === 'auth failed') age.className += ' aging';
      age.setAttribute('data-age-seconds', String(job.dataAgeSeconds));
      age.textContent = duration(job.dataAgeSeconds);
      age.title = 'age of the oldest warmed data of this job, by cached_at';
    } else {
      age.className += ' muted';
    }
    cells['job-data-age'].appendChild(age);

    if (present(job.lastError)) {
      // An error from before the last success is history, not the current state.
      var current = state === 'failing' || state === 'auth failed';
      var text = el('div', 'error-text' + (current ? '' : ' resolved'), job.lastError);
      text.title = String(job.lastError);
      cells['job-error'].appendChild(text);
      if (present(job.lastFailureAt)) {
        var when = el('span', 'sub error-at', '');
        when.appendChild(document.createTextNode(current ? 'failed ' : 'resolved; failed '));
        when.appendChild(timeSpan(job.lastFailureAt, 'failure-at'));
        cells['job-error'].appendChild(when);
      }
    } else {
      cells['job-error'].appendChild(el('span', 'no-error muted', '-'));
    }
    return tr;
  }

  function renderSummary(jobs) {
    var summary = byId('summary');
    var counts = {};
    jobs.forEach(function (j) { var s = typeof j.state === 'string' ? j.state : 'unknown'; counts[s] = (counts[s] || 0) + 1; });
    var nodes = ['failing', 'auth failed', 'ok', 'never run'].filter(function (s) { return counts[s]; }).map(function (s) {
      return el('span', 'badge state-' + STATES[s], counts[s] + ' ' + s);
    });
    summary.replaceChildren.apply(summary, nodes);
    var bad = (counts['failing'] || 0) + (counts['auth failed'] || 0);
    document.title = (bad ? bad + ' failing · ' : '') + 'cache-warmer status';
    var colour = bad ? '%23cf222e' : counts['ok'] ? '%232da44e' : '%238c959f';
    byId('favicon').setAttribute('href', 'data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 viewBox=%220 0 16 16%22%3E%3Ccircle cx=%228%22 cy=%228%22 r=%227%22 fill=%22' + colour + '%22/%3E%3C/svg%3E');
  }

  function renderFeasibility(f) {
    var box = byId('feasibility');
    var list = byId('warnings');
    if (!f || typeof f !== 'object') { box.hidden = true; list.replaceChildren(); return; }
    box.hidden = false;
    var fits = f.fits !== false;
    box.className = 'feasibility ' + (fits ? 'fits' : 'over');
    var limited = isNum(f.limitPerSecond) && f.limitPerSecond > 0;
    var needed = isNum(f.neededPerSecond) ? f.neededPerSecond.toFixed(2) + ' req/s' : '-';
    var parts = [
      el('span', 'verdict', !limited ? 'No upstream rate limit' : fits ? 'Cadences fit the rate limit' : 'Cadences exceed the rate limit'),
      el('span', 'load', 'upstream load ' + needed + ' needed for ' + (isNum(f.projects) ? f.projects : '-') + ' projects; limit ' + (limited ? f.limitPerSecond + ' req/s' : 'none'))
    ];
    if (limited && isNum(f.neededPerSecond)) {
      var meter = el('div', 'meter');
      var fill = el('div', 'meter-fill');
      // CSSOM, not a style attribute: allowed by the page's CSP.
      fill.style.width = Math.min(100, (100 * f.neededPerSecond) / f.limitPerSecond).toFixed(1) + '%';
      meter.title = Math.round((100 * f.neededPerSecond) / f.limitPerSecond) + '% of the limit';
      meter.appendChild(fill);
      parts.splice(1, 0, meter);
    }
    box.replaceChildren.apply(box, parts);
    var warnings = Array.isArray(f.warnings) ? f.warnings : [];
    list.replaceChildren.apply(list, warnings.map(function (w) { return el('li', 'warning', w); }));
  }

  function render() {
    var doc = view.doc;
    var jobs = Array.isArray(doc.jobs) ? doc.jobs : [];
    var body = byId('jobs');
    var rows = jobs.map(jobRow);
    if (rows.length === 0) {
      var tr = el('tr');
      var td = el('td', 'empty', 'No jobs yet: nothing has run and nothing is scheduled.');
      td.colSpan = COLUMNS.length;
      tr.appendChild(td);
      rows.push(tr);
    }
    body.replaceChildren.apply(body, rows);
    renderSummary(jobs);
    renderFeasibility(doc.feasibility);
  }

  function renderBanner() {
    var banner = byId('banner');
    var table = byId('table');
    if (!view.error) {
      banner.hidden = true;
      table.classList.remove('stale');
      return;
    }
    var text = 'Cannot load the status (' + view.error + ').';
    text += view.doc ? ' Showing the data from ' + duration((Date.now() - view.fetchedAt) / 1000) + ' ago;' : '';
    text += ' retrying every ' + REFRESH_MS / 1000 + ' s.';
    byId('banner-text').textContent = text;
    banner.hidden = false;
    table.classList.toggle('stale', !!view.doc);
  }

  /** Once a second: relative times, data ages and "updated … ago" move on between fetches. */
  function tick() {
    var now = serverNow();
    var spans = document.querySelectorAll('.rel[data-at]');
    for (var i = 0; i < spans.length; i += 1) spans[i].textContent = relative(spans[i].getAttribute('data-at'), now);
    var elapsed = view.fetchedAt ? (Date.now() - view.fetchedAt) / 1000 : 0;
    var ages = document.querySelectorAll('.data-age[data-age-seconds]');
    for (var j = 0; j < ages.length; j += 1) ages[j].textContent = duration(Number(ages[j].getAttribute('data-age-seconds')) + elapsed);
    var updated = byId('updated');
    if (view.fetchedAt) {
      updated.textContent = 'updated ' + duration(elapsed) + ' ago';
      updated.title = 'fetched ' + new Date(view.fetchedAt).toLocaleString() + '; refreshes every ' + REFRESH_MS / 1000 + ' s';
    } else {
      updated.textContent = view.error ? 'no data yet' : 'loading…';
    }
    updated.classList.toggle('stale', !!view.error);
    if (view.error) renderBanner();
  }

  function refresh() {
    if (view.inFlight) return;
    view.inFlight = true;
    clearTimeout(view.timer);
    var controller = new AbortController();
    var timeout = setTimeout(function () { controller.abort(); }, FETCH_TIMEOUT_MS);
    fetch('./status', { headers: { accept: 'application/json' }, cache: 'no-store', signal: controller.signal })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status + (res.statusText ? ' ' + res.statusText : ''));
        var serverDate = Date.parse(res.headers.get('date') || '');
        return res.json().then(function (doc) {
          if (!doc || typeof doc !== 'object' || !Array.isArray(doc.jobs)) throw new Error('not a status document');
          // The Date header has whole seconds: half a second is the best guess.
          var skew = isFinite(serverDate) ? serverDate + 500 - Date.now() : 0;
          view.skewMs = Math.abs(skew) > SKEW_TOLERANCE_MS ? skew : 0;
          view.doc = doc;
          view.fetchedAt = Date.now();
          view.error = null;
          render();
        });
      })
      .catch(function (error) {
        view.error = error && error.name === 'AbortError' ? 'no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s' : (error && error.message) || String(error);
      })
      .then(function () {
        clearTimeout(timeout);
        view.inFlight = false;
        renderBanner();
        tick();
        view.timer = setTimeout(refresh, REFRESH_MS);
      });
  }

  byId('host').textContent = location.host;
  byId('retry').addEventListener('click', refresh);
  document.addEventListener('visibilitychange', function () {
    // Background tabs have their timers throttled: catch up as soon as the page is looked at.
    if (document.visibilityState === 'visible' && Date.now() - view.fetchedAt > REFRESH_MS) refresh();
  });
  setInterval(tick, 1000);
  refresh();
})();
`;
