// The page's pure logic: parse log lines, undo the server's escaping, check handles against the
// server's rules, read a token's claims, and compute reconnect delays. No DOM here: tests import
// this module on its own.
// Cursors are not here on purpose: they are the server's opaque names for positions,
// kept and sent back as they came (see docs/protocol.md).
import { decode as decode64 } from "./base64url.js";

const LINE_RE = /^\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\] ([A-Za-z0-9_]+)(?: -> ([A-Za-z0-9_]+))?: ([\s\S]*)$/;
const ESCAPE_RE = /\\(u[0-9a-fA-F]{4}|[\\nrt])/g;
const SHORT = { "\\": "\\", n: "\n", r: "\r", t: "\t" };

/** Undo the server's escaping (docs/protocol.md): \\ \n \r \t and \uXXXX. */
export function unescapeText(text) {
  return text.replace(ESCAPE_RE, (_, body) =>
    body.length === 5 ? String.fromCharCode(parseInt(body.slice(1), 16)) : SHORT[body]);
}

/** Split a log line into date, time, handle, recipient, text; a line in no known format is all text. */
export function parseLine(line) {
  const match = LINE_RE.exec(line);
  if (!match) {
    return { date: "", time: "", handle: "", to: null, text: line, system: false, raw: line };
  }
  const [, date, time, handle, to, text] = match;
  return { date, time, handle, to: to ?? null, text: unescapeText(text), system: handle === "System", raw: line };
}

/**
 * The rules of the server's /api/settings answer, as the page applies them: patterns as RegExps
 * (the server's own patterns, which mean the same in JavaScript), the own-line window in ms.
 */
export function rulesFrom(body) {
  return {
    maxChars: body.max_message_chars ?? 2000,
    allowNewChannels: Boolean(body.allow_new_channels),
    handle: body.handle_pattern ? new RegExp(body.handle_pattern) : null,
    handleHint: body.handle_hint ?? "",
    reserved: body.reserved_handles ?? [],
    channel: body.channel_pattern ? new RegExp(body.channel_pattern) : null,
    channelHint: body.channel_hint ?? "",
    ownLineMs: (body.own_line_seconds ?? 0) * 1000,
    editLineMs: (body.edit_line_seconds ?? 0) * 1000,
  };
}

const PRESENCE_TEXT = /^([A-Za-z0-9_]+) has (joined|left) the chat$/;

/** A parsed line's join or leave: {kind: "joined" | "left", handle}, or null for any other line. */
export function presenceChange(parsed) {
  const match = parsed.system ? PRESENCE_TEXT.exec(parsed.text) : null;
  return match ? { kind: match[2], handle: match[1] } : null;
}

/** Return why a handle cannot be used under `rules` (see rulesFrom), or "" if it can. */
export function handleProblem(handle, rules) {
  if (rules.handle && !rules.handle.test(handle)) {
    return `A handle is ${rules.handleHint}.`;
  }
  const reserved = rules.reserved.find((name) => name.toLowerCase() === handle.toLowerCase());
  if (reserved) {
    return `The handle ${reserved} is reserved.`;
  }
  return "";
}

/** Return whether `name` may be a channel under `rules` (no pattern loaded: the server decides). */
export function channelAllowed(name, rules) {
  return rules.channel ? rules.channel.test(name) : name !== "";
}

/** Return why `name` cannot be a channel under `rules`, or "" if it can. */
export function channelProblem(name, rules) {
  if (channelAllowed(name, rules)) return "";
  return rules.channelHint ? `A channel name is ${rules.channelHint}.` : "A channel needs a name.";
}

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

/**
 * Delay in ms before reconnect attempt `attempt` (0-based): a ceiling doubling from 1 s to 30 s,
 * and a random delay between half the ceiling and the ceiling, never under 1 s, so that clients
 * dropped together do not come back together.
 */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(30_000, 1000 * 2 ** attempt);
  return Math.max(1000, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}

/** Count characters as the server does (code points, not UTF-16 units). */
export function charCount(text) {
  let count = 0;
  for (const _ of text) {
    count += 1;
  }
  return count;
}

/** Read "/msg HANDLE TEXT" into {to, text}; null if the text is not a /msg command. */
export function parseCommand(text) {
  const match = /^\/msg\s+(\S+)\s([\s\S]*)$/.exec(text);
  if (!match) {
    return /^\/msg(\s|$)/.test(text) ? { error: "Write /msg HANDLE TEXT" } : null;
  }
  return { to: match[1], text: match[2] };
}

/** Say who is typing: "Alice is typing…", "Alice and Bob are typing…", "Alice, Bob and 2 others are typing…". */
export function typingSentence(handles) {
  const names = [...handles].sort((a, b) => a.localeCompare(b));
  if (names.length === 0) return "";
  return `${listNames(names, 2)} ${names.length === 1 ? "is" : "are"} typing…`;
}

/**
 * Name people in a sentence: up to `upTo` by name ("Alice", "Alice and Bob", "Alice, Bob and Carol"),
 * more as the first two and a count ("Alice, Bob and 38 others").
 */
export function listNames(names, upTo) {
  if (names.length <= 1) return names.join("");
  if (names.length <= upTo) return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  const others = names.length - 2;
  return `${names[0]}, ${names[1]} and ${others} ${others === 1 ? "other" : "others"}`;
}

/**
 * Split `text` into pieces for showing a search hit: [{text, match}], the matches of `query`
 * found without regard to case (as the server matches). Shown as text nodes, never HTML.
 */
export function markMatches(text, query) {
  const needle = query.toLowerCase();
  const lower = text.toLowerCase();
  if (!needle || lower.length !== text.length) {
    // Lower-casing changed the length (a few scripts do): no reliable positions, no marks.
    return [{ text, match: false }];
  }
  const pieces = [];
  let from = 0;
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + needle.length)) {
    if (at > from) pieces.push({ text: text.slice(from, at), match: false });
    pieces.push({ text: text.slice(at, at + needle.length), match: true });
    from = at + needle.length;
  }
  if (from < text.length || pieces.length === 0) pieces.push({ text: text.slice(from), match: false });
  return pieces;
}

// ---------------------------------------------------------------- the conversation view

export const GROUP_SECONDS = 5 * 60; // lines of one author this close together share one name and time

/** Seconds since the epoch of a line's date and time (as UTC: only differences matter). */
export function stampSeconds(date, time) {
  return Date.parse(`${date}T${time}Z`) / 1000;
}

/** "Tuesday, 1 December 2026" for a line's date ("2026-12-01"). */
export function dayLabel(date) {
  const [year, month, day] = date.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, month - 1, day)));
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;
const MENTION_RE = /(^|[^A-Za-z0-9_@])@([A-Za-z0-9_]+)(?![A-Za-z0-9_])/g;

/**
 * Cut a message's text into pieces to show: [{kind: "text" | "link" | "mention", text, href, me}].
 * Links are http(s) URLs (trailing punctuation left out); a mention is "@" and a whole handle that
 * `handleRule` (the server's pattern, or null: any word) accepts; `me` marks a mention of `self`.
 */
export function textPieces(text, self, handleRule) {
  const spans = [];
  for (const match of text.matchAll(URL_RE)) {
    const url = match[0].replace(TRAILING, "");
    spans.push({ at: match.index, end: match.index + url.length, kind: "link", text: url, href: url });
  }
  for (const match of text.matchAll(MENTION_RE)) {
    const handle = match[2];
    const at = match.index + match[1].length;
    if ((handleRule && !handleRule.test(handle)) || spans.some((s) => at < s.end && at >= s.at)) continue;
    spans.push({ at, end: at + 1 + handle.length, kind: "mention", text: `@${handle}`,
      me: Boolean(self) && handle.toLowerCase() === self.toLowerCase() });
  }
  spans.sort((a, b) => a.at - b.at);
  const pieces = [];
  let from = 0;
  for (const span of spans) {
    if (span.at > from) pieces.push({ kind: "text", text: text.slice(from, span.at) });
    pieces.push(span);
    from = span.end;
  }
  if (from < text.length || pieces.length === 0) pieces.push({ kind: "text", text: text.slice(from) });
  return pieces;
}

/** Whether `text` mentions `self` ("@Self", any case, the whole handle). */
export function mentionsMe(text, self, handleRule) {
  return textPieces(text, self, handleRule).some((piece) => piece.me);
}

/** The "@word" being typed just before `caret` in `value`: {from, query}, or null. */
export function mentionAt(value, caret) {
  const match = /(^|[^A-Za-z0-9_@])@([A-Za-z0-9_]*)$/.exec(value.slice(0, caret));
  return match ? { from: caret - match[2].length - 1, query: match[2] } : null;
}

/** The handles that complete `query` (their start, any case), sorted, at most `limit`. */
export function completions(query, handles, limit = 8) {
  const wanted = query.toLowerCase();
  return handles.filter((handle) => handle.toLowerCase().startsWith(wanted))
    .sort((a, b) => a.localeCompare(b)).slice(0, limit);
}
