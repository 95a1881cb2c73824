// Load generator: one process opens a slice of the connections, waits for "go" on stdin,
// sends its share of messages, counts every delivery, and prints one JSON result line.
//
// Config (a JSON file named by argv[2]): {url, ready: "first-frame"|"open", clients: [{channel, handle, sends, url?}],
//   perChannelExpected: {channel: lines}, rate, count, idleMs, connectConcurrency}
// Messages are "m:<sender>:<seq>:<send time in ms since the epoch, fractional>".
'use strict';
const WebSocket = require('ws');
const { performance } = require('perf_hooks');
const { eachLimited } = require('./pool.js');

const cfg = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const now = () => performance.timeOrigin + performance.now();
const MARK = /m:(\d+):(\d+):([\d.]+)/g;

const sockets = [];
const latencies = [];
let received = 0;
let duplicates = 0;
let torn = 0;  // deliveries whose line arrived cut in two (its timestamp is unreadable)
let sent = 0;
let lastProgress = Date.now();
let expected = 0;
let frames = 0;  // frames and bytes received (of every kind), reported at ready and at the end
let bytes = 0;
const seen = [];  // per receiver: Set of "sender:seq"

function openOne(client, index) {
  return new Promise((resolve, reject) => {
    const query = new URLSearchParams({ channel: client.channel, handle: client.handle });
    const ws = new WebSocket(`${client.url || cfg.url}?${query}`, { perMessageDeflate: false });
    let ready = false;
    seen[index] = new Set();
    const done = () => { if (!ready) { ready = true; resolve(ws); } };
    ws.on('open', () => { if (cfg.ready === 'open') done(); });
    ws.on('error', (err) => { if (!ready) { ready = true; reject(err); } });
    ws.on('message', (data) => {
      done();
      frames += 1;
      bytes += data.length;
      const text = data.toString();
      if (text.indexOf('m:') < 0) return;
      const t = now();
      MARK.lastIndex = 0;
      let m;
      while ((m = MARK.exec(text)) !== null) {
        const key = m[1] + ':' + m[2];
        if (seen[index].has(key)) { duplicates += 1; continue; }
        seen[index].add(key);
        received += 1;
        const latency = t - Number(m[3]);
        if (latency < 0 || latency > 600000) torn += 1; else latencies.push(latency);
        lastProgress = Date.now();
      }
    });
    sockets[index] = ws;
  });
}

async function connectAll() {
  const start = now();
  await eachLimited(cfg.clients.length, cfg.connectConcurrency, (i) => openOne(cfg.clients[i], i));
  return now() - start;
}

function sendAll() {
  const jobs = [];
  cfg.clients.forEach((client, i) => {
    if (!client.sends) return;
    const ws = sockets[i];
    const senderId = client.senderId;
    jobs.push(new Promise((resolve) => {
      if (!cfg.rate) {  // as fast as possible
        for (let seq = 0; seq < cfg.count; seq += 1) {
          ws.send(JSON.stringify({ type: 'chat', handle: client.handle, message: `m:${senderId}:${seq}:${now().toFixed(3)}` }));
          sent += 1;
        }
        resolve();
        return;
      }
      const start = now();
      let seq = 0;
      const tick = () => {
        while (seq < cfg.count && now() >= start + (seq * 1000) / cfg.rate) {
          ws.send(JSON.stringify({ type: 'chat', handle: client.handle, message: `m:${senderId}:${seq}:${now().toFixed(3)}` }));
          sent += 1;
          seq += 1;
        }
        if (seq < cfg.count) setTimeout(tick, Math.max(0, start + (seq * 1000) / cfg.rate - now()));
        else resolve();
      };
      tick();
    }));
  });
  return Promise.all(jobs);
}

function finish(extra) {
  const cpu = process.cpuUsage();
  for (const ws of sockets) if (ws) ws.terminate();
  // Writes to a pipe are asynchronous in Node: exit only once the line is out.
  process.stdout.write(JSON.stringify({
    sent, received, expected, duplicates, torn, latencies: latencies.map((x) => Math.round(x * 100) / 100),
    cpu_s: (cpu.user + cpu.system) / 1e6, ...extra,
  }) + '\n', () => process.exit(0));
}

(async () => {
  const connectMs = await connectAll();
  expected = cfg.clients.reduce((sum, c) => sum + (cfg.perChannelExpected[c.channel] || 0), 0);
  const readyCpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ ready: true, connect_ms: connectMs, cpu_s: (readyCpu.user + readyCpu.system) / 1e6, frames, bytes }) + '\n');
  process.stdin.once('data', async () => {
    lastProgress = Date.now();
    const sendStart = now();
    await sendAll();
    const sendMs = now() - sendStart;
    const timer = setInterval(() => {
      if (received >= expected || Date.now() - lastProgress > cfg.idleMs) {
        clearInterval(timer);
        finish({ connect_ms: connectMs, send_ms: sendMs, elapsed_ms: now() - sendStart });
      }
    }, 5);
  });
})().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err) }) + '\n');
  process.exit(1);
});
