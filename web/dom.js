// What every part of the page shares: finding its elements, the one alert, what the browser remembers,
// and what the page knows of who we are (one object instead of loose variables in each module).
export const $ = (id) => document.getElementById(id);

/** Who we are on this page. Each open channel keeps its own cursors and tokens (room.js). */
export const session = {
  me: "",               // our handle
  pageToken: null,      // a site's token from the page address, if any
  // The server's own tokens for reconnects ("token" events), by channel: each is valid for its
  // channel only, and outlives the site's token (so a channel left and opened again still joins).
  resumeTokens: new Map(),
};

/** The server's rules (from /api/settings): null patterns mean "not loaded: let the server decide". */
export const rules = {
  maxChars: 2000, allowNewChannels: false, handle: null, reserved: [], channel: null, ownLineMs: 0, editLineMs: 0,
};

export function showAlert(text) {
  const alert = $("alert");
  alert.textContent = text;
  alert.hidden = false;
}

export function clearAlert() {
  const alert = $("alert");
  alert.textContent = "";
  alert.hidden = true;
}

/** What this browser remembers for the page (localStorage, as JSON); `fallback` when nothing or refused. */
export function remembered(key, fallback) {
  try {
    const value = localStorage.getItem(key);
    return value === null ? fallback : JSON.parse(value);
  } catch {
    return fallback; // storage refused (a private window's policy), or not ours
  }
}

/** Remember `value` for the page (null forgets it); nothing happens where storage is refused. */
export function remember(key, value) {
  try {
    if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage refused: nothing is remembered
  }
}
