// The chat page: wires its parts together (connection, log view, composer, users, search,
// moderation), and owns the join form, the channel list and the server's rules.
import { composeParts } from "./parts.js";
import { $, clearAlert, rules, session, showAlert } from "./dom.js";
import { channelAllowed, handleProblem, rulesFrom, tokenClaims } from "./lines.js";
import { NO_CHANNEL } from "./sentences.js";

const ui = {
  join: $("join"), channel: $("channel"), handle: $("handle"), connect: $("connect"), state: $("state"),
  newChannel: $("new-channel"), newChannelField: $("new-channel-field"),
};

// A site that issues tokens links to /?channel=C&token=JWT: the token goes to the socket as it is,
// and leaves the address bar at once (not in history, bookmarks or a shared screen).
session.pageToken = new URLSearchParams(location.search).get("token");
if (session.pageToken) {
  const clean = new URL(location.href);
  clean.searchParams.delete("token");
  history.replaceState(history.state, "", clean.pathname + clean.search + clean.hash);
}

// ---------------------------------------------------------------- state

function setState(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
  parts.composer.enable(state === "connected");
  const busy = state !== "disconnected";
  ui.connect.textContent = busy ? "Disconnect" : "Connect";
  ui.channel.disabled = busy;
  ui.newChannel.disabled = busy;
  ui.handle.disabled = busy;
}

const parts = composeParts({
  state: setState,
  accepted() {
    clearAlert();
    setState("connected", `Connected to ${session.channel} as ${session.me}`);
    loadChannels(session.channel, { quiet: true });
  },
  closed: () => loadChannels(ui.channel.value, { quiet: true }),
  presence: (channel, users) => labelChannel(channel, users),
});

// ---------------------------------------------------------------- joining and leaving

function connect() {
  clearAlert();
  const problem = handleProblem(ui.handle.value.trim(), rules);
  if (problem) {
    showAlert(problem);
    ui.handle.focus();
    return;
  }
  const wantedNew = rules.allowNewChannels ? ui.newChannel.value.trim() : "";
  if (wantedNew && !channelAllowed(wantedNew, rules)) {
    showAlert("A channel name is 1 to 32 of a-z, 0-9, - and _, starting with a letter or digit.");
    ui.newChannel.focus();
    return;
  }
  if (!wantedNew && !ui.channel.value) {
    showAlert("No channel to join: the channel list could not be loaded.");
    return;
  }
  const channel = wantedNew || ui.channel.value;
  if (channel !== session.channel) {
    session.resumeToken = null; // bound to the channel it was issued for; kept for Connect again to the same one
  }
  session.channel = channel;
  session.me = ui.handle.value.trim();
  session.lastCursor = null;
  parts.reset();
  parts.connection.start();
}

function disconnect() {
  parts.users.clearTyping();
  parts.connection.stop();
}

ui.join.addEventListener("submit", (event) => {
  event.preventDefault();
  if (parts.connection.wanted()) {
    disconnect();
  } else {
    connect();
  }
});

// ---------------------------------------------------------------- channels and rules

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
      showAlert(NO_CHANNEL);
    }
  } catch {
    if (!quiet) {
      showAlert("Could not load the channel list; is the server running?");
    }
  }
}

/** Take the server's rules (patterns, limits, the own-line window) from /api/settings. */
async function loadSettings() {
  try {
    const response = await fetch("/api/settings");
    Object.assign(rules, rulesFrom(await response.json()));
    ui.newChannelField.hidden = !rules.allowNewChannels;
  } catch {
    // no rules: the page checks nothing first, and the server refuses what it must
  }
  parts.composer.updateRemaining();
}

async function start() {
  setState("disconnected", "Disconnected");
  const params = new URLSearchParams(location.search); // the token is already gone from it
  const channel = params.get("channel");
  const subject = tokenClaims(session.pageToken).sub; // for display only; the server verifies the token
  const handle = (typeof subject === "string" ? subject : null) ?? params.get("handle");
  if (handle) {
    ui.handle.value = handle;
  }
  if (session.pageToken) {
    ui.handle.readOnly = true; // the token names the handle; the server ignores any other
  }
  await Promise.all([loadChannels(channel, { quiet: true }), loadSettings()]);
  if (!channel) {
    return;
  }
  if (ui.channel.value !== channel) {
    if (!(rules.allowNewChannels && channelAllowed(channel, rules))) {
      showAlert(NO_CHANNEL);
      return;
    }
    ui.newChannel.value = channel; // a link to a room that does not exist yet
  }
  if (handle) {
    connect();
  }
}

start();
