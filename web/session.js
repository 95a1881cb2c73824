// What the page knows of who we are and of the server's rules: one small store, read and changed
// through these functions only (no module holds or exports a mutable object of it).
import { decode as decode64 } from "./base64url.js";

let me = "";            // our handle
let pageToken = null;   // a site's token from the page address, if any
// The server's own tokens for reconnects ("token" events), by channel: each is valid for its
// channel only, and outlives the site's token (so a channel left and opened again still joins).
const resumeTokens = new Map();
// The server's rules (from /api/settings): null patterns mean "not loaded: let the server decide".
let rules = Object.freeze({
  maxChars: 2000, allowNewChannels: false, handle: null, handleHint: "", reserved: [], channel: null,
  channelHint: "", ownLineMs: 0, editLineMs: 0, accounts: false, signUp: "",
});

/** Our handle ("" before connecting). */
export const myHandle = () => me;
export function setMyHandle(handle) { me = handle; }

/** The site's token from the page address, or null. */
export const siteToken = () => pageToken;
export function setSiteToken(token) { pageToken = token || null; }

/** The token to join `channel` with: the server's resume token for it, else the site's. */
export const tokenFor = (channel) => resumeTokens.get(channel) ?? pageToken;
export function setResumeToken(channel, token) { resumeTokens.set(channel, token); }

/** The server's rules as the page applies them (see rulesFrom in rules.js); frozen: replace with setRules. */
export const serverRules = () => rules;
export function setRules(next) { rules = Object.freeze({ ...next }); }

let bots = new Set(); // the bots' handles (GET /api/bots, with accounts): their lines and names are marked

/** Whether `handle` is a bot's. */
export const isBot = (handle) => bots.has(handle);
export function setBots(names) { bots = new Set(names); }

/** Read a JWT's claims, for display only (the server verifies the token); {} if it is not one. */
export function tokenClaims(token) {
  if (!token) return {};
  try {
    const claims = JSON.parse(new TextDecoder().decode(decode64(token.split(".")[1])));
    return claims && typeof claims === "object" ? claims : {};
  } catch {
    return {};
  }
}
