// The chat page: joins a channel over /ws, shows the log, sends messages, reconnects.
import { Seen, backoffDelay, charCount, handleProblem, parseLine, placeLines } from "./lines.js";

const $ = (id) => document.getElementById(id);
const ui = {
  join: $("join"), channel: $("channel"), handle: $("handle"), connect: $("connect"),
  state: $("state"), alert: $("alert"), log: $("log"), jump: $("jump"),
  compose: $("compose"), message: $("message"), send: $("send"), remaining: $("remaining"),
};

const JOIN_REFUSALS = new Set(["No valid channel provided", "No valid handle provided", "User already registered"]);
const settings = { maxChars: 2000 };
let socket = null;       // the live WebSocket, if any
let wanted = false;      // the person wants to be connected (Disconnect sets it false)
let everConnected = false;
let attempt = 0;
let retryTimer = null;
let countdownTimer = null;
let me = "";
let seen = new Seen();

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

function renderLine({ line, offset }) {
  const parsed = parseLine(line);
  const item = document.createElement("li");
  item.className = parsed.system ? "line system" : "line";
  if (offset !== null) {
    item.dataset.offset = String(offset); // where the line ends in the log file
  }
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
  if (parsed.handle && !parsed.system) {
    const who = document.createElement("span");
    who.className = "handle";
    who.textContent = parsed.handle;
    item.append(who, " ");
  }
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = parsed.text; // always text, never HTML
  item.append(text);
  return item;
}

function appendLines(lines, cursor) {
  const fresh = seen.fresh(placeLines(lines, cursor));
  if (!fresh.length) {
    return;
  }
  const follow = nearBottom();
  const batch = document.createDocumentFragment();
  for (const placed of fresh) {
    batch.append(renderLine(placed));
  }
  ui.log.append(batch);
  if (follow) {
    ui.log.scrollTop = ui.log.scrollHeight;
  } else {
    ui.jump.hidden = false;
  }
}

ui.log.addEventListener("scroll", () => {
  if (nearBottom()) {
    ui.jump.hidden = true;
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
  return `${scheme}//${location.host}/ws?${query}`;
}

function open() {
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  const channel = ui.channel.value;
  const handle = ui.handle.value.trim();
  setState("connecting", "Connecting…");
  const ws = new WebSocket(socketUrl(channel, handle));
  socket = ws;

  ws.addEventListener("message", (event) => {
    if (socket !== ws) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.success === false) {
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
    if (!frame.event && typeof frame.data?.message === "string") {
      appendLines(frame.data.message.split("\n"), frame.data.cursor);
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
    const refused = event.code === 1008 && JOIN_REFUSALS.has(event.reason);
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
  if (!ui.channel.value) {
    showAlert("No channel to join: the channel list could not be loaded.");
    return;
  }
  me = ui.handle.value.trim();
  wanted = true;
  everConnected = false;
  attempt = 0;
  seen = new Seen();
  ui.log.replaceChildren();
  ui.jump.hidden = true;
  open();
}

function disconnect() {
  wanted = false;
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
  clearAlert();
  socket.send(JSON.stringify({ type: "chat", message: text }));
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

ui.message.addEventListener("input", updateRemaining);

// ---------------------------------------------------------------- start-up

/** Fill the channel select with the channels and their user counts; keep `preferred` selected. */
async function loadChannels(preferred, { quiet = false } = {}) {
  try {
    const response = await fetch("/api/channels");
    const channels = await response.json();
    ui.channel.replaceChildren(...channels.map(({ name, users }) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = `${name} (${users} ${users === 1 ? "user" : "users"})`;
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
  } catch {
    // keep the default; the server still enforces its own limit
  }
  updateRemaining();
}

async function start() {
  setState("disconnected", "Disconnected");
  const params = new URLSearchParams(location.search);
  const channel = params.get("channel");
  const handle = params.get("handle");
  if (handle) {
    ui.handle.value = handle;
  }
  await Promise.all([loadChannels(channel), loadSettings()]);
  if (channel && handle && ui.channel.value === channel) {
    connect();
  }
}

start();
