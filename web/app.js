// The chat page: joins a channel over /ws, shows the log, sends messages, reconnects.
import {
  CHANNEL_RULE, backoffDelay, charCount, handleProblem, parseCommand, parseLine, typingSentence,
} from "./lines.js";
import { createModeration, tokenOperator } from "./moderation.js";
import { createFinder } from "./search.js";

const $ = (id) => document.getElementById(id);
const ui = {
  join: $("join"), channel: $("channel"), handle: $("handle"), connect: $("connect"),
  state: $("state"), alert: $("alert"), log: $("log"), lines: $("lines"), jump: $("jump"),
  compose: $("compose"), message: $("message"), send: $("send"), remaining: $("remaining"),
  users: $("users"), typing: $("typing"), newChannel: $("new-channel"), newChannelField: $("new-channel-field"),
};

const JOIN_REFUSALS = new Set([
  "No valid channel provided", "No valid handle provided", "User already registered", "You are banned from this channel",
]);
// Closed by a moderator: reconnecting would only be refused (a ban) or undo the kick.
const REMOVED = /^(You were removed from the channel|You are banned from this channel)/;
const settings = { maxChars: 2000, allowNewChannels: false };
const TYPING_EVERY = 2000; // ms between "still typing" refreshes (the server forgets after 6 s)
let socket = null;       // the live WebSocket, if any
let wanted = false;      // the person wants to be connected (Disconnect sets it false)
let everConnected = false;
let attempt = 0;
let retryTimer = null;
let countdownTimer = null;
let me = "";
let channelName = "";
// Cursors are the server's opaque names for positions in the log: the page
// keeps the ones frames carry and never looks inside them.
let lastCursor = null;     // after the last line shown: resume from here (the server replays exactly the rest)
let oldest = null;         // before the first line shown: page back from here
let loadingOlder = false;
let reachedStart = false;
let typingSince = 0;       // when we last told the server we are typing (0: not typing)
const typers = new Set();
// A site that issues tokens links to /?channel=C&token=JWT: the token goes to the socket as it is,
// and leaves the address bar at once (not in history, bookmarks or a shared screen).
const pageToken = new URLSearchParams(location.search).get("token");
if (pageToken) {
  const clean = new URL(location.href);
  clean.searchParams.delete("token");
  history.replaceState(history.state, "", clean.pathname + clean.search + clean.hash);
}
let resumeToken = null; // the server's own token for our reconnects (a "token" event), once joined

// ---------------------------------------------------------------- state and alerts

function setState(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
  const live = state === "connected";
  ui.message.disabled = !live;
  ui.send.disabled = !live;
  const busy = state !== "disconnected";
  ui.connect.textContent = busy ? "Disconnect" : "Connect";
  ui.channel.disabled = busy;
  ui.newChannel.disabled = busy;
  ui.handle.disabled = busy;
}

function showAlert(text) {
  ui.alert.textContent = text;
  ui.alert.hidden = false;
}

function clearAlert() {
  ui.alert.textContent = "";
  ui.alert.hidden = true;
}

// ---------------------------------------------------------------- the log

function nearBottom() {
  return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
}

function renderLine(line, cursor = null, deleted = false, live = false) {
  const parsed = parseLine(line);
  const item = document.createElement("li");
  item.className = parsed.system ? "line system" : "line";
  if (parsed.handle && parsed.handle === me) {
    item.classList.add("own");
  }
  if (parsed.time) {
    const time = document.createElement("time");
    time.dateTime = `${parsed.date}T${parsed.time}`;
    time.textContent = parsed.time;
    time.title = `${parsed.date} ${parsed.time}`;
    item.append(time, " ");
  }
  if (parsed.to) {
    item.classList.add("private");
    if (parsed.handle === me || parsed.to === me) item.classList.add("own");
    const tag = document.createElement("span");
    tag.className = "private-tag";
    tag.textContent = "private";
    item.append(tag, " ");
  }
  if (parsed.handle && !parsed.system) {
    const who = document.createElement("span");
    who.className = "handle";
    who.textContent = parsed.to ? `${parsed.handle} → ${parsed.to}` : parsed.handle;
    item.append(who, " ");
  }
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = parsed.text; // always text, never HTML
  item.append(text);
  moderation.decorate(item, parsed, cursor, deleted, live);
  return item;
}

/** Render the lines of a frame or a history answer, with their cursors and deleted marks. */
function renderFrame(data, live = false) {
  const deleted = new Set(data.deleted ?? []);
  const lines = data.message ? data.message.split("\n") : [];
  return lines.map((line, index) => renderLine(line, data.cursors?.[index] ?? null, deleted.has(index), live));
}

function appendItems(items) {
  if (!items.length) {
    return;
  }
  const batch = document.createDocumentFragment();
  batch.append(...items);
  if (finder.active()) {
    ui.lines.append(batch); // the live list is hidden behind a jump: it is shown again at its end
    return;
  }
  const follow = nearBottom();
  ui.lines.append(batch);
  if (follow) {
    ui.log.scrollTop = ui.log.scrollHeight;
  } else {
    ui.jump.hidden = false;
  }
}

function appendLines(data) {
  if (oldest === null && data.start) {
    oldest = data.start; // the first lines shown: older ones are before this
  }
  lastCursor = data.cursor ?? lastCursor;
  appendItems(renderFrame(data, true));
}

function notice(text) {
  const item = document.createElement("li");
  item.className = "line notice";
  item.textContent = text;
  appendItems([item]);
}

function prependLines(data) {
  // Older lines, above what is shown; keep the view where the reader is.
  const before = ui.log.scrollHeight;
  const batch = document.createDocumentFragment();
  batch.append(...renderFrame(data));
  ui.lines.prepend(batch);
  ui.log.scrollTop += ui.log.scrollHeight - before;
  oldest = data.cursor;
}

function resetLog() {
  oldest = null;
  loadingOlder = false;
  reachedStart = false;
  ui.lines.replaceChildren();
}

function loadOlder() {
  if (loadingOlder || reachedStart || oldest === null || !socket || socket.readyState !== WebSocket.OPEN) {
    return;
  }
  loadingOlder = true;
  socket.send(JSON.stringify({ type: "history", before: oldest, limit: 100 }));
}

function renderUsers(users) {
  ui.users.replaceChildren(...users.map((handle) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = handle;
    button.title = `Send ${handle} a private message`;
    button.addEventListener("click", () => {
      ui.message.value = `/msg ${handle} `;
      updateRemaining();
      ui.message.focus();
    });
    if (handle === me) item.className = "me";
    item.append(button, ...moderation.userControls(handle));
    return item;
  }));
}

function showTyping() {
  ui.typing.textContent = typingSentence(typers);
}

function handleEvent(frame) {
  const data = frame.data ?? {};
  switch (frame.event) {
    case "presence":
      renderUsers(data.users ?? []);
      labelChannel(data.channel, (data.users ?? []).length);
      for (const handle of [...typers]) {
        if (!(data.users ?? []).includes(handle)) typers.delete(handle);
      }
      showTyping();
      break;
    case "typing":
      if (data.typing) typers.add(data.handle); else typers.delete(data.handle);
      showTyping();
      break;
    case "private":
      appendItems([renderLine(data.message)]);
      break;
    case "deleted":
      moderation.deleted(data.cursor);
      break;
    case "token":
      resumeToken = data.token; // valid for this channel only, renewed while connected
      break;
    case "resumed":
      if (!data.recovered) {
        // The server cannot replay exactly (the log was rotated or trimmed):
        // start the view again from the lines it sends next.
        resetLog();
        notice("Some lines written while you were away may not be shown.");
      }
      break;
    case "history":
      if (finder.onHistory(data)) break;
      loadingOlder = false;
      if (data.message) {
        prependLines(data);
      } else {
        reachedStart = true;
      }
      break;
    default:
      break;
  }
}

ui.log.addEventListener("scroll", () => {
  if (finder.active()) return; // the jump view pages itself
  if (nearBottom()) {
    ui.jump.hidden = true;
  }
  if (ui.log.scrollTop < 10) {
    loadOlder();
  }
});

ui.jump.addEventListener("click", () => {
  ui.log.scrollTop = ui.log.scrollHeight;
  ui.jump.hidden = true;
  ui.message.focus();
});

// ---------------------------------------------------------------- connection

function socketUrl(channel, handle) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ channel, handle });
  if (lastCursor) {
    query.set("since", lastCursor); // resume: the server replays exactly what we missed
  }
  const token = resumeToken ?? pageToken;
  if (token) {
    query.set("token", token); // the server takes the handle from it
  }
  return `${scheme}//${location.host}/ws?${query}`;
}

function open() {
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  const channel = channelName;
  const handle = me;
  typers.clear();
  showTyping();
  setState("connecting", "Connecting…");
  const ws = new WebSocket(socketUrl(channel, handle));
  socket = ws;
  let opened = false;
  ws.addEventListener("open", () => { opened = true; });

  ws.addEventListener("message", (event) => {
    if (socket !== ws) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.success === false) {
      finder.onRefusal(frame.message ?? "");
      showAlert(frame.message ?? "Error");
      return;
    }
    if (ui.state.dataset.state !== "connected") {
      // The socket opens before the server has accepted the join: the first
      // frame that is not a refusal is the acceptance.
      attempt = 0;
      everConnected = true;
      clearAlert();
      setState("connected", `Connected to ${channel} as ${handle}`);
      loadChannels(channel, { quiet: true });
    }
    if (frame.event) {
      handleEvent(frame);
    } else if (typeof frame.data?.message === "string") {
      appendLines(frame.data);
    }
  });

  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    loadChannels(ui.channel.value, { quiet: true });
    if (!wanted) {
      setState("disconnected", "Disconnected");
      return;
    }
    // A refused join ends the attempt, except "User already registered"
    // while reconnecting: that is usually our own previous connection,
    // which the server frees once it notices it is gone.
    if (!opened) {
      // Refused before the upgrade (origin, token, per-address cap) or unreachable: the browser
      // does not say which, so say what is known.
      showAlert("Could not connect to the chat server (it is unreachable or refused the connection).");
    }
    const refused = event.code === 1008 && (JOIN_REFUSALS.has(event.reason) || REMOVED.test(event.reason));
    if (refused && !(everConnected && event.reason === "User already registered")) {
      wanted = false;
      setState("disconnected", "Disconnected");
      return;
    }
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  const delay = backoffDelay(attempt);
  attempt += 1;
  const due = Date.now() + delay;
  const tick = () => {
    const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    setState("reconnecting", `Reconnecting in ${seconds} s`);
  };
  tick();
  countdownTimer = setInterval(tick, 250);
  retryTimer = setTimeout(() => {
    clearInterval(countdownTimer);
    if (wanted) open();
  }, delay);
}

function connect() {
  clearAlert();
  const problem = handleProblem(ui.handle.value.trim());
  if (problem) {
    showAlert(problem);
    ui.handle.focus();
    return;
  }
  const wantedNew = settings.allowNewChannels ? ui.newChannel.value.trim() : "";
  if (wantedNew && !CHANNEL_RULE.test(wantedNew)) {
    showAlert("A channel name is 1 to 32 of a-z, 0-9, - and _, starting with a letter or digit.");
    ui.newChannel.focus();
    return;
  }
  if (!wantedNew && !ui.channel.value) {
    showAlert("No channel to join: the channel list could not be loaded.");
    return;
  }
  const channel = wantedNew || ui.channel.value;
  if (channel !== channelName) {
    resumeToken = null; // bound to the channel it was issued for; kept for Connect again to the same one
  }
  channelName = channel;
  me = ui.handle.value.trim();
  wanted = true;
  everConnected = false;
  attempt = 0;
  lastCursor = null;
  finder.reset();
  resetLog();
  ui.users.replaceChildren();
  ui.jump.hidden = true;
  open();
}

function disconnect() {
  wanted = false;
  typers.clear();
  showTyping();
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  if (socket) {
    const ws = socket;
    socket = null;
    ws.close(1000, "Bye");
  }
  setState("disconnected", "Disconnected");
}

ui.join.addEventListener("submit", (event) => {
  event.preventDefault();
  if (wanted) {
    disconnect();
  } else {
    connect();
  }
});

// ---------------------------------------------------------------- composing

function updateRemaining() {
  const left = settings.maxChars - charCount(ui.message.value);
  ui.remaining.textContent = `${left} characters left`;
  ui.remaining.classList.toggle("over", left < 0);
}

function send() {
  const text = ui.message.value;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    return;
  }
  if (!text.trim()) {
    showAlert("Message is empty");
    return;
  }
  if (charCount(text) > settings.maxChars) {
    showAlert(`Message is too long (limit ${settings.maxChars} characters)`);
    return;
  }
  const command = parseCommand(text);
  if (command?.error) {
    showAlert(command.error);
    return;
  }
  clearAlert();
  if (command) {
    socket.send(JSON.stringify({ type: "private", to: command.to, message: command.text }));
  } else {
    socket.send(JSON.stringify({ type: "chat", message: text }));
  }
  setTyping(false);
  ui.message.value = "";
  updateRemaining();
  ui.log.scrollTop = ui.log.scrollHeight;
}

ui.compose.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

function setTyping(typing) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    typingSince = 0;
    return;
  }
  const now = Date.now();
  if (typing && now - typingSince < TYPING_EVERY) {
    return; // at most one "typing" every 2 s
  }
  if (!typing && typingSince === 0) {
    return;
  }
  socket.send(JSON.stringify({ type: "typing", typing }));
  typingSince = typing ? now : 0;
}

ui.message.addEventListener("input", () => {
  updateRemaining();
  setTyping(ui.message.value.trim() !== "" && !ui.message.value.startsWith("/"));
});
ui.message.addEventListener("blur", () => setTyping(false));

// ---------------------------------------------------------------- moderation, search and jump

const moderation = createModeration({
  send: (request) => finder.send(request),
  me: () => me,
  operator: () => tokenOperator(resumeToken ?? pageToken, channelName),
  showAlert,
});
setInterval(() => moderation.sweep(), 30_000);

const finder = createFinder({
  channel: () => channelName || ui.channel.value,
  token: () => resumeToken ?? pageToken,
  send: (request) => {
    if (!socket || socket.readyState !== WebSocket.OPEN || ui.state.dataset.state !== "connected") return false;
    socket.send(JSON.stringify(request));
    return true;
  },
  renderFrame,
  showAlert,
  onLive: () => {
    ui.jump.hidden = true;
    ui.message.focus();
  },
});

// ---------------------------------------------------------------- start-up

function channelLabel(name, users) {
  return `${name} (${users} ${users === 1 ? "user" : "users"})`;
}

function labelChannel(name, users) {
  for (const option of ui.channel.options) {
    if (option.value === name) option.textContent = channelLabel(name, users);
  }
}

/** Fill the channel select with the channels and their user counts; keep `preferred` selected. */
async function loadChannels(preferred, { quiet = false } = {}) {
  try {
    const response = await fetch("/api/channels");
    const channels = await response.json();
    ui.channel.replaceChildren(...channels.map(({ name, users }) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = channelLabel(name, users);
      return option;
    }));
    if (preferred && channels.some(({ name }) => name === preferred)) {
      ui.channel.value = preferred;
    } else if (preferred && !quiet) {
      showAlert("No valid channel provided");
    }
  } catch {
    if (!quiet) {
      showAlert("Could not load the channel list; is the server running?");
    }
  }
}

async function loadSettings() {
  try {
    const response = await fetch("/api/settings");
    const body = await response.json();
    settings.maxChars = body.max_message_chars ?? settings.maxChars;
    settings.allowNewChannels = Boolean(body.allow_new_channels);
    ui.newChannelField.hidden = !settings.allowNewChannels;
  } catch {
    // keep the default; the server still enforces its own limit
  }
  updateRemaining();
}

/** Read the handle (sub) out of a JWT's payload, for display only; the server verifies the token. */
function tokenSubject(token) {
  if (!token) return null;
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(atob(payload)).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

async function start() {
  setState("disconnected", "Disconnected");
  const params = new URLSearchParams(location.search); // the token is already gone from it
  const channel = params.get("channel");
  const handle = tokenSubject(pageToken) ?? params.get("handle");
  if (handle) {
    ui.handle.value = handle;
  }
  if (pageToken) {
    ui.handle.readOnly = true; // the token names the handle; the server ignores any other
  }
  await Promise.all([loadChannels(channel, { quiet: true }), loadSettings()]);
  if (!channel) {
    return;
  }
  if (ui.channel.value !== channel) {
    if (!(settings.allowNewChannels && CHANNEL_RULE.test(channel))) {
      showAlert("No valid channel provided");
      return;
    }
    ui.newChannel.value = channel; // a link to a room that does not exist yet
  }
  if (handle) {
    connect();
  }
}

start();
