// What every part of the page shares: finding its elements, the one alert, and what the page knows
// of its conversation (one object instead of loose variables in each module).
export const $ = (id) => document.getElementById(id);

/** The conversation: who we are, where, and the positions and tokens that let us come back. */
export const session = {
  me: "",               // our handle
  channel: "",          // the channel joined (or being joined)
  // Cursors are the server's opaque names for positions in the log: the page keeps the ones
  // frames carry and never looks inside them.
  lastCursor: null,     // after the last line shown: resume from here (the server replays exactly the rest)
  pageToken: null,      // a site's token from the page address, if any
  resumeToken: null,    // the server's own token for our reconnects (a "token" event), once joined
  token() { return this.resumeToken ?? this.pageToken; },
};

/** The server's rules (from /api/settings): null patterns mean "not loaded: let the server decide". */
export const rules = {
  maxChars: 2000, allowNewChannels: false, handle: null, reserved: [], channel: null, ownLineMs: 0,
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
