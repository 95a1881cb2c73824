// Restart storm client (workload R): opens every connection, then on command sends lines, rides
// out a server restart by reconnecting with since=<last cursor> within a window, and counts every
// delivery once per client. Commands come on stdin, one per line; each answer is one JSON line.
//
// Config (JSON file, argv[2]): {url, clients: [{channel, handle, senderId|null}], count, windowMs,
//   connectConcurrency, presence}: with presence (the default), a reconnect also sends presence=<the version
//   of the users list it holds> (docs/protocol.md "Versions"), and a server that has that set sends no list.
'use strict';
const WebSocket = require('ws');
const readline = require('readline');
const { eachLimited } = require('./pool.js');

const cfg = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const MARK = /m:(\d+):(\d+)/g;
const state = cfg.clients.map(() => ({ ws: null, cursor: null, seen: new Set(), dup: 0, backAt: null,
  recovered: null, closedAt: null, presence: null, lists: 0 }));
let restarting = false;
let phase = 0;

function say(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

function open(index, since) {
  return new Promise((resolve) => {
    const client = cfg.clients[index];
    const s = state[index];
    const query = new URLSearchParams({ channel: client.channel, handle: client.handle });
    if (since) query.set('since', since);
    if (since && s.presence && cfg.presence !== false) query.set('presence', s.presence);
    const ws = new WebSocket(`${cfg.url}?${query}`, { perMessageDeflate: false });
    let first = true;
    s.ws = ws;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (first) {
        first = false;
        resolve(frame.success !== false);
        if (restarting && s.backAt === null && frame.success !== false) s.backAt = Date.now();
      }
      if (frame.event === 'resumed') s.recovered = frame.data.recovered;
      if (frame.event === 'presence') {
        s.presence = frame.data.version;
        if (frame.data.users && restarting) s.lists += 1;  // a whole list after the restart
      }
      if (frame.success === false) return;
      if (!frame.event && frame.data && typeof frame.data.message === 'string') {
        s.cursor = frame.data.cursor;
        MARK.lastIndex = 0;
        let m;
        while ((m = MARK.exec(frame.data.message)) !== null) {
          const key = m[1] + ':' + m[2];
          if (s.seen.has(key)) s.dup += 1; else s.seen.add(key);
        }
      }
    });
    ws.on('error', (e) => { if (process.env.STORM_DEBUG) process.stderr.write('error ' + index + ' ' + e + '\n'); });
    ws.on('close', (code) => {
      if (process.env.STORM_DEBUG) process.stderr.write('close ' + index + ' ' + code + ' restarting=' + restarting + '\n');
      if (first) { first = false; resolve(false); }
      if (s.ws !== ws || !restarting || s.backAt !== null) return;
      if (s.closedAt === null) {
        s.closedAt = Date.now();
        setTimeout(() => retry(index), Math.random() * cfg.windowMs);  // everyone comes back within the window
      } else {
        setTimeout(() => retry(index), 100 + Math.random() * 200);  // refused while the server is down: again
      }
    });
  });
}

function retry(index) { open(index, state[index].cursor); }

async function connectAll() {
  await eachLimited(cfg.clients.length, cfg.connectConcurrency, async (i) => {
    if (!(await open(i, null))) throw new Error(`client ${i} was refused`);
  });
}

function expectedFor(index, perChannel) { return perChannel[cfg.clients[index].channel] || 0; }

async function sendPhase(perChannelBefore) {
  phase += 1;
  const perChannel = { ...perChannelBefore };
  cfg.clients.forEach((client, i) => {
    if (client.senderId === null) return;
    for (let k = 0; k < cfg.count; k += 1) {
      state[i].ws.send(JSON.stringify({ type: 'chat', message: `m:${client.senderId}:${phase * 100000 + k}` }));
    }
    perChannel[client.channel] = (perChannel[client.channel] || 0) + cfg.count;
  });
  await until(() => state.every((s, i) => s.seen.size >= expectedFor(i, perChannel)), 20000);
  return perChannel;
}

function converged() {  // every client holds a list, and the same one as the others of its channel
  const held = {};
  for (let i = 0; i < cfg.clients.length; i += 1) {
    const channel = cfg.clients[i].channel;
    const version = state[i].presence;
    if (version === null || (channel in held && held[channel] !== version)) return false;
    held[channel] = version;
  }
  return true;
}

function until(test, timeoutMs) {
  const start = Date.now();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (test() || Date.now() - start > timeoutMs) { clearInterval(timer); resolve(test()); }
    }, 20);
  });
}

(async () => {
  await connectAll();
  say({ ready: true });
  let perChannel = {};
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [command, arg] = line.trim().split(' ');
    if (command === 'send') {
      perChannel = await sendPhase(perChannel);
      say({ sent: true, phase });
    } else if (command === 'restart') {
      // Presence is coalesced (a delta at most every 0.25 s): let every client hold its channel's last list
      // first, as clients that have been connected a while do; one that does not is sent the list again.
      await until(converged, 5000);
      restarting = true;
      say({ armed: true });
      await until(() => state.every((s) => s.backAt !== null), 120000);
      const backs = state.map((s) => s.backAt).filter((t) => t !== null);
      say({ back: backs.length, last_back_ms: Math.max(...backs), back_ms: backs,
        lists: state.reduce((sum, s) => sum + s.lists, 0),
        first_close_ms: Math.min(...state.map((s) => s.closedAt || Infinity)) });
      restarting = false;
    } else if (command === 'during') {
      for (const channel of Object.keys(perChannel)) perChannel[channel] += Number(arg);
    } else if (command === 'final') {
      await until(() => state.every((s, i) => s.seen.size >= expectedFor(i, perChannel)), 10000);
      const expected = state.reduce((sum, s, i) => sum + expectedFor(i, perChannel), 0);
      const received = state.reduce((sum, s) => sum + s.seen.size, 0);
      say({ expected, received, duplicates: state.reduce((sum, s) => sum + s.dup, 0),
        recovered_false: state.filter((s) => s.recovered === false).length });
      for (const s of state) s.ws.terminate();
      process.exit(0);
    }
  }
})().catch((err) => { say({ error: String(err) }); process.exit(1); });
