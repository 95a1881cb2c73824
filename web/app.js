// The chat page: the connect screen (handle and first channel), then the chat view (rooms.js) with
// the channels open at the last visit reopened; the server's rules; the theme and notifications.
import { $, clearAlert, remember, remembered, showAlert } from "./dom.js";
import { setUpAccounts, whoAmI } from "./account.js";
import { composeParts } from "./parts.js";
import { setUpNotifications, setUpTheme } from "./prefs.js";
import { NO_CHANNEL } from "./sentences.js";
import { proxyDown, registerWorker, waitForServer } from "./offline.js";
import { setServerZone } from "./loglines.js";
import { channelAllowed, channelProblem, handleProblem, rulesFrom } from "./rules.js";
import { myHandle, serverRules, setBots, setMyHandle, setRules, setSiteToken, siteToken, tokenClaims } from "./session.js";

const HANDLE_KEY = "wsserver.handle";
const CHANNELS_EVERY = 30_000; // ms between two reads of the channel list (user counts)

const ui = {
  join: $("join"), channel: $("channel"), handle: $("handle"), connect: $("connect"), state: $("state"),
  newChannel: $("new-channel"), newChannelField: $("new-channel-field"), connectScreen: $("connect-screen"),
  chatScreen: $("chat-screen"), tools: $("tools"), drawer: $("drawer"), disconnect: $("disconnect"),
  createForm: $("create-form"), createName: $("create-name"),
};

// A site that issues tokens links to /?channel=C&token=JWT: the token goes to the socket as it is,
// and leaves the address bar at once (not in history, bookmarks or a shared screen).
setSiteToken(new URLSearchParams(location.search).get("token"));
if (siteToken()) {
  const clean = new URL(location.href);
  clean.searchParams.delete("token");
  history.replaceState(history.state, "", clean.pathname + clean.search + clean.hash);
}

setUpTheme();
const notify = setUpNotifications();

function showChat(on) {
  ui.connectScreen.hidden = on;
  ui.chatScreen.hidden = !on;
  ui.tools.hidden = !on;
  ui.drawer.hidden = !on;
  document.body.classList.toggle("chatting", on);
  if (!on) {
    ui.state.dataset.state = "disconnected";
    ui.state.textContent = "Disconnected";
  }
}

const rooms = composeParts({
  showChat,
  notify,
  channelsChanged: () => loadChannels(null, { quiet: true }),
  labelChannel(name, users) {
    for (const option of ui.channel.options) {
      if (option.value === name) option.textContent = channelLabel(name, users);
    }
  },
});

// ---------------------------------------------------------------- connecting

function connect() {
  clearAlert();
  const handle = ui.handle.value.trim();
  const problem = handleProblem(handle, serverRules());
  if (problem) {
    showAlert(problem);
    ui.handle.focus();
    return;
  }
  const wantedNew = serverRules().allowNewChannels ? ui.newChannel.value.trim() : "";
  if (wantedNew && !channelAllowed(wantedNew, serverRules())) {
    showAlert(channelProblem(wantedNew, serverRules()));
    ui.newChannel.focus();
    return;
  }
  if (!wantedNew && !ui.channel.value) {
    showAlert("No channel to join: the channel list could not be loaded.");
    return;
  }
  if (handle !== myHandle()) {
    for (const room of [...rooms.rooms.values()]) room.close(); // another person: their own channels
  }
  setMyHandle(handle);
  remember(HANDLE_KEY, handle);
  rooms.open(wantedNew || ui.channel.value);
}

ui.join.addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});

// With --allow-new-channels, a channel can be made from the chat view too (joining it creates it).
ui.createForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.createName.value.trim();
  if (!channelAllowed(name, serverRules())) {
    showAlert(channelProblem(name, serverRules()));
    ui.createName.focus();
    return;
  }
  ui.createName.value = "";
  rooms.open(name);
});

ui.disconnect.addEventListener("click", () => {
  rooms.closeAll();
  showChat(false);
  ui.connect.focus();
});

// ---------------------------------------------------------------- channels and rules

function channelLabel(name, users) {
  return `${name} (${users} ${users === 1 ? "user" : "users"})`;
}

/** Fill the channel select and the sidebar with the channels and their user counts; keep `preferred` selected. */
async function loadChannels(preferred, { quiet = false } = {}) {
  try {
    const response = await fetch("/api/channels");
    const channels = await response.json();
    const selected = preferred ?? ui.channel.value;
    ui.channel.replaceChildren(...channels.map(({ name, users }) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = channelLabel(name, users);
      return option;
    }));
    if (selected && channels.some(({ name }) => name === selected)) {
      ui.channel.value = selected;
    } else if (preferred && !quiet) {
      showAlert(NO_CHANNEL);
    }
    rooms.channels(channels);
    return channels;
  } catch {
    if (!quiet) showAlert("Could not load the channel list; is the server running?");
    return [];
  }
}

/** Take the server's rules (patterns, limits, the own-line window) from /api/settings. */
async function loadSettings() {
  let response;
  try {
    response = await fetch("/api/settings");
  } catch {
    return false; // the server did not answer: offline (the page itself came from the service worker)
  }
  if (proxyDown(response.status)) return false; // a proxy in front of a server that is down
  try {
    const settings = await response.json();
    setRules(rulesFrom(settings));
    setServerZone(settings.timezone ?? "UTC"); // the log's stamps are in it; the page shows the browser's
    registerWorker(settings.page_version);
    // The hints under the fields are the server's own words for its rules (/api/settings).
    $("handle-rule").textContent = serverRules().handleHint;
    $("new-channel-rule").textContent = serverRules().channelHint && `optional: ${serverRules().channelHint} (creates it)`;
    ui.newChannelField.hidden = !serverRules().allowNewChannels;
    ui.createForm.hidden = !serverRules().allowNewChannels;
  } catch {
    // no rules: the page checks nothing first, and the server refuses what it must
  }
  return true;
}

async function start() {
  const params = new URLSearchParams(location.search); // the token is already gone from it
  const channel = params.get("channel");
  const subject = tokenClaims(siteToken()).sub; // for display only; the server verifies the token
  const stored = remembered(HANDLE_KEY, null);
  const handle = (typeof subject === "string" ? subject : null) ?? params.get("handle") ?? stored;
  if (handle) ui.handle.value = handle;
  if (siteToken()) ui.handle.readOnly = true; // the token names the handle; the server ignores any other
  const [, reached] = await Promise.all([loadChannels(channel, { quiet: true }), loadSettings()]);
  if (!reached) {
    waitForServer(); // nothing can be joined: the page says so and starts again once the server answers
    return;
  }
  setInterval(() => loadChannels(null, { quiet: true }), CHANNELS_EVERY);
  if (serverRules().accounts) {
    // With accounts the handle is the account's: sign in first (the cookie may already say who).
    const loadBots = () => fetch("/api/bots").then((r) => (r.ok ? r.json() : { bots: [] }))
      .then((body) => setBots(body.bots)).catch(() => null);
    const accounts = setUpAccounts({
      signUp: serverRules().signUp,
      signedIn: (name) => loadBots().then(() => enter(name, channel, stored)),
    });
    window.addEventListener("wsserver:signed-out", (event) => {
      for (const room of [...rooms.rooms.values()]) room.close();
      showChat(false);
      ui.connectScreen.hidden = true;
      accounts.show(event.detail);
    });
    setInterval(loadBots, CHANNELS_EVERY);
    const signedIn = await whoAmI();
    if (signedIn) await loadBots();
    if (!signedIn) {
      ui.connectScreen.hidden = true;
      accounts.show();
      return;
    }
    accounts.signedIn(signedIn);
    enter(signedIn, channel, stored);
    return;
  }
  enter(handle, channel, stored);
}

/** Go on as `handle` (an account's, or the one typed or remembered): the channels of the last visit, the link's. */
function enter(handle, channel, stored) {
  if (serverRules().accounts) {
    ui.handle.value = handle;
    ui.handle.readOnly = true; // the account's: the server ignores any other
    ui.connectScreen.hidden = false;
  }
  // The channels open at the last visit come back for the same handle; a link adds (and shows) its own.
  const saved = handle && handle === stored ? rooms.saved() : { names: [], active: null };
  if (channel && ui.channel.value !== channel) {
    if (!(serverRules().allowNewChannels && channelAllowed(channel, serverRules()))) {
      showAlert(NO_CHANNEL);
      return;
    }
    ui.newChannel.value = channel; // a link to a room that does not exist yet
  }
  if (!handle || (!channel && !saved.names.length)) return;
  setMyHandle(handle);
  remember(HANDLE_KEY, handle);
  for (const name of saved.names) {
    if (name !== channel && name !== saved.active) rooms.open(name);
  }
  if (saved.active && saved.active !== channel && saved.names.includes(saved.active)) rooms.open(saved.active);
  if (channel) connect();
}

start();
