// A message's text as the page handles it: counting, /msg, who is typing, names in a sentence,
// search marks, links and mentions, @ completion. No DOM here: tests import this module on its own.

/** Count characters as the server does (code points, not UTF-16 units). */
export function charCount(text) {
  let count = 0;
  for (const _ of text) {
    count += 1;
  }
  return count;
}

/** Read "/msg HANDLE TEXT" into {to, text}, "/topic TEXT" into {topic}; null if the text is neither. */
export function parseCommand(text) {
  const topic = /^\/topic(?:\s([\s\S]*))?$/.exec(text);
  if (topic) return { topic: (topic[1] ?? "").trim() };
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

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;
// A mention is @ and a word (\w: letters, digits, _; dashes inside); textPieces keeps those the handle rule accepts.
const MENTION_RE = /(^|[^\w@-])@(\w[\w-]*\w|\w)(?![\w-])/g;

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

/** The "@word" being typed just before `caret` in `value`: {from, query}, or null. */
export function mentionAt(value, caret) {
  const match = /(^|[^\w@-])@([\w-]*)$/.exec(value.slice(0, caret));
  return match ? { from: caret - match[2].length - 1, query: match[2] } : null;
}

/** The handles that complete `query` (their start, any case), sorted, at most `limit`. */
export function completions(query, handles, limit = 8) {
  const wanted = query.toLowerCase();
  return handles.filter((handle) => handle.toLowerCase().startsWith(wanted))
    .sort((a, b) => a.localeCompare(b)).slice(0, limit);
}
