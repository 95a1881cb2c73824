// One channel's socket to /ws: open it, tell the page what arrives, and come back after a drop with the
// resume cursor (the server replays exactly what was missed) and the server's own resume token.
import { showAlert } from "./dom.js";
import { ACCOUNT_CLOSED, BANNED, HANDLE_TAKEN, KICKED, NO_CHANNEL, NO_HANDLE, SIGNED_OUT } from "./sentences.js";
import { myHandle } from "./session.js";

// A refused join ends the attempt; so does a close by a moderator (reconnecting would only be
// refused, for a ban, or undo the kick).
const JOIN_REFUSALS = new Set([NO_CHANNEL, NO_HANDLE, HANDLE_TAKEN, BANNED]);
const REMOVED = [KICKED, BANNED];
const SESSION_ENDED = new Set([SIGNED_OUT, ACCOUNT_CLOSED]); // the page shows the sign-in screen again

/**
 * place: {name, lastCursor, presenceVersion, token()}: the channel, where to resume from, the version of the
 * users list it holds, the token to join with.
 * hooks: state(name, text) shows the connection state; opening() before each attempt;
 * accepted() when the server took the join; frame(frame) for each frame after that (and refusals);
 * closed() when a socket ended.
 */
export function createConnection(place, hooks) {
  let socket = null;       // the live WebSocket, if any
  let wanted = false;      // the person wants to be connected (Disconnect sets it false)
  let everConnected = false;
  let accepted = false;    // the server took this socket's join
  let attempt = 0;
  let retryTimer = null;
  let countdownTimer = null;

  function url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams({ channel: place.name, handle: myHandle() });
    if (place.lastCursor) {
      query.set("since", place.lastCursor); // resume: the server replays exactly what we missed
      if (place.presenceVersion) query.set("presence", place.presenceVersion); // and no users list if unchanged
    }
    const token = place.token();
    if (token) {
      query.set("token", token); // the server takes the handle from it
    }
    return `${scheme}//${location.host}/ws?${query}`;
  }

  function open() {
    clearTimeout(retryTimer);
    clearInterval(countdownTimer);
    hooks.opening();
    hooks.state("connecting", "Connecting…");
    const ws = new WebSocket(url());
    socket = ws;
    accepted = false;
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
      if (frame.success !== false && !accepted) {
        // The socket opens before the server has accepted the join: the first
        // frame that is not a refusal is the acceptance.
        accepted = true;
        attempt = 0;
        everConnected = true;
        hooks.accepted();
      }
      hooks.frame(frame);
    });

    ws.addEventListener("close", (event) => {
      if (socket !== ws) return;
      socket = null;
      accepted = false;
      hooks.closed(event);
      if (!wanted) {
        hooks.state("disconnected", "Disconnected");
        return;
      }
      if (!opened) {
        // Refused before the upgrade (origin, token, per-address cap) or unreachable: the browser
        // does not say which, so say what is known.
        showAlert("Could not connect to the chat server (it is unreachable or refused the connection).");
      }
      // HANDLE_TAKEN while reconnecting is usually our own previous connection,
      // which the server frees once it notices it is gone: try again.
      const removed = REMOVED.some((sentence) => event.reason.startsWith(sentence));
      const ended = event.code === 1008 && SESSION_ENDED.has(event.reason);
      if (ended) window.dispatchEvent(new CustomEvent("wsserver:signed-out", { detail: event.reason }));
      const refused = event.code === 1008 && (JOIN_REFUSALS.has(event.reason) || removed || ended);
      if (refused && !(everConnected && event.reason === HANDLE_TAKEN)) {
        wanted = false;
        hooks.state("disconnected", "Disconnected");
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
      hooks.state("reconnecting", `Reconnecting in ${seconds} s`);
    };
    tick();
    countdownTimer = setInterval(tick, 250);
    retryTimer = setTimeout(() => {
      clearInterval(countdownTimer);
      if (wanted) open();
    }, delay);
  }

  return {
    wanted: () => wanted,
    /** Join the channel as myHandle(), from the live end (place.lastCursor null) or resuming. */
    start() {
      wanted = true;
      everConnected = false;
      attempt = 0;
      open();
    },
    stop() {
      wanted = false;
      clearTimeout(retryTimer);
      clearInterval(countdownTimer);
      if (socket) {
        const ws = socket;
        socket = null;
        ws.close(1000, "Bye");
      }
      hooks.state("disconnected", "Disconnected");
    },
    /** Send a request on the open socket; false if there is none. With `joined`, only once the join was taken. */
    send(request, joined = false) {
      if (!socket || socket.readyState !== WebSocket.OPEN || (joined && !accepted)) return false;
      socket.send(JSON.stringify(request));
      return true;
    },
  };
}

/**
 * Delay in ms before reconnect attempt `attempt` (0-based): a ceiling doubling from 1 s to 30 s,
 * and a random delay between half the ceiling and the ceiling, never under 1 s, so that clients
 * dropped together do not come back together.
 */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(30_000, 1000 * 2 ** attempt);
  return Math.max(1000, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}
