/**
 * GET / on the admin server: a live dashboard. One self-contained page (inline
 * script and canvas, nothing fetched from elsewhere, no build step) that polls
 * /stats and draws the last minutes of connections, messages per second and
 * memory, plus a per-worker table. `?interval=ms` changes the poll period.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>herald dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  .ok { color: #5fd38d; } .bad { color: #ff7a7a; }
  main { padding: 16px 20px; display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 16px; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 12px; }
  section h2 { font-size: 14px; margin: 0 0 6px; display: flex; justify-content: space-between; }
  section h2 span { font-weight: normal; color: #4a5568; }
  canvas { width: 100%; height: 160px; display: block; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid #eef0f3; }
  th:first-child, td:first-child { text-align: left; }
  #table { grid-column: 1 / -1; }
</style>
</head>
<body>
<header><h1>herald</h1><div id="health">connecting…</div><div id="summary"></div></header>
<main>
  <section><h2>Connections <span id="v-connections"></span></h2><canvas id="c-connections"></canvas></section>
  <section><h2>Messages / s <span id="v-messages"></span></h2><canvas id="c-messages"></canvas></section>
  <section><h2>Memory (RSS, MiB) <span id="v-memory"></span></h2><canvas id="c-memory"></canvas></section>
  <section id="table"><h2>Workers</h2>
    <table id="workers"><thead><tr><th>worker</th><th>pid</th><th>up</th><th>connections</th><th>broker</th><th>received</th><th>delivered</th><th>RSS MiB</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
(function () {
  var params = new URLSearchParams(location.search);
  var interval = Math.max(200, Number(params.get('interval')) || 2000);
  var keepMs = 10 * 60 * 1000;
  var points = [];
  var last = null;

  function sumRss(s) { return s.perWorker.reduce(function (a, w) { return a + (w.rssBytes || 0); }, 0); }

  function draw(id, series, color) {
    var canvas = document.getElementById(id);
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = w * dpr; canvas.height = h * dpr;
    var ctx = canvas.getContext('2d');
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, w, h);
    var left = 48, bottom = h - 18;
    var max = Math.max(1, Math.max.apply(null, series.map(function (p) { return p.v; })));
    ctx.strokeStyle = '#e3e6eb'; ctx.fillStyle = '#6b7280'; ctx.font = '11px system-ui, sans-serif';
    for (var i = 0; i <= 4; i++) {
      var y = 6 + ((bottom - 6) * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillText(fmt(max * (1 - i / 4)), 2, y + 4);
    }
    if (series.length < 2) return;
    var t0 = series[0].t, t1 = series[series.length - 1].t;
    ctx.fillText(Math.round((t1 - t0) / 1000) + ' s', w - 40, h - 4);
    var x = function (t) { return left + ((w - left - 4) * (t - t0)) / Math.max(1, t1 - t0); };
    var yv = function (v) { return bottom - ((bottom - 6) * v) / max; };
    ctx.beginPath();
    series.forEach(function (p, k) { if (k === 0) ctx.moveTo(x(p.t), yv(p.v)); else ctx.lineTo(x(p.t), yv(p.v)); });
    ctx.lineTo(x(t1), bottom); ctx.lineTo(x(t0), bottom); ctx.closePath();
    ctx.fillStyle = color + '33'; ctx.fill();
    ctx.beginPath();
    series.forEach(function (p, k) { if (k === 0) ctx.moveTo(x(p.t), yv(p.v)); else ctx.lineTo(x(p.t), yv(p.v)); });
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.stroke();
  }

  function fmt(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (v >= 1e4) return (v / 1e3).toFixed(0) + 'k';
    return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  }

  function cell(text) { var td = document.createElement('td'); td.textContent = String(text); return td; }

  function render(s) {
    var health = document.getElementById('health');
    health.textContent = s.healthy ? 'healthy' : 'unhealthy: ' + s.reasons.join('; ');
    health.className = s.healthy ? 'ok' : 'bad';
    document.getElementById('summary').textContent = s.workers.up + '/' + s.workers.configured + ' workers, broker ' + s.broker.kind + ' (' + s.broker.publisher + ')';
    var tbody = document.querySelector('#workers tbody');
    tbody.textContent = '';
    s.perWorker.forEach(function (w) {
      var tr = document.createElement('tr');
      var st = w.stats || {};
      [w.id, w.pid || '-', w.up ? 'yes' : 'no', w.connections, w.broker || '-', st.messagesReceived || 0, st.messagesDelivered || 0, ((w.rssBytes || 0) / 1048576).toFixed(1)]
        .forEach(function (v) { tr.appendChild(cell(v)); });
      tbody.appendChild(tr);
    });
    var series = function (key) { return points.map(function (p) { return { t: p.t, v: p[key] }; }); };
    var latest = points[points.length - 1];
    document.getElementById('v-connections').textContent = String(latest.connections);
    document.getElementById('v-messages').textContent = fmt(latest.delivered) + ' delivered to sockets, ' + fmt(latest.received) + ' received by workers';
    document.getElementById('v-memory').textContent = fmt(latest.rss);
    draw('c-connections', series('connections'), '#2563eb');
    draw('c-messages', series('delivered'), '#16a34a');
    draw('c-memory', series('rss'), '#d97706');
    document.body.dataset.points = String(points.length);
  }

  function poll() {
    fetch('stats', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) {
      var now = Date.now();
      var rate = function (key) { return last ? Math.max(0, (s[key] - last.s[key]) * 1000 / (now - last.t)) : 0; };
      points.push({ t: now, connections: s.connections, received: rate('messagesReceived'), delivered: rate('messagesDelivered'), rss: sumRss(s) / 1048576 });
      while (points.length > 2 && now - points[0].t > keepMs) points.shift();
      last = { t: now, s: s };
      render(s);
    }).catch(function (err) {
      var health = document.getElementById('health');
      health.textContent = 'admin server unreachable: ' + err.message;
      health.className = 'bad';
    }).then(function () { setTimeout(poll, interval); });
  }
  poll();
})();
</script>
</body>
</html>
`;
