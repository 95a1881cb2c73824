// The page's pure logic: parse log lines, undo the server's escaping, check handles,
// place each line at its byte offset in the log (so reconnects show no line twice),
// and compute reconnect delays. No DOM here: tests import this module on its own.

export const HANDLE_RULE = /^[A-Za-z0-9_]{3,16}$/;

const LINE_RE = /^\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\] ([A-Za-z0-9_]+)(?: -> ([A-Za-z0-9_]+))?: ([\s\S]*)$/;
const ESCAPE_RE = /\\(u[0-9a-fA-F]{4}|[\\nrt])/g;
const SHORT = { "\\": "\\", n: "\n", r: "\r", t: "\t" };
const encoder = new TextEncoder();

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

/** Return why a handle cannot be used, or "" if it can. */
export function handleProblem(handle) {
  if (!HANDLE_RULE.test(handle)) {
    return "A handle is 3 to 16 letters, digits or underscores.";
  }
  if (handle.toLowerCase() === "system") {
    return "The handle System is reserved.";
  }
  return "";
}

/** Parse a cursor "dev-ino-offset" into its file and offset, or null. */
export function parseCursor(cursor) {
  const match = /^([0-9a-f]+-[0-9a-f]+)-(\d+)$/.exec(cursor ?? "");
  return match ? { file: match[1], offset: Number(match[2]) } : null;
}

/**
 * Give each line of a frame its position: the byte offset just after it.
 * The frame's cursor is the offset after its last line; each line before
 * ends where the next begins (its UTF-8 length plus the newline).
 */
export function placeLines(lines, cursor) {
  const end = parseCursor(cursor);
  if (!end) {
    return lines.map((line) => ({ line, file: null, offset: null, start: null }));
  }
  const placed = new Array(lines.length);
  let offset = end.offset;
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const start = offset - encoder.encode(lines[i]).length - 1;
    placed[i] = { line: lines[i], file: end.file, offset, start };
    offset = start;
  }
  return placed;
}

/**
 * Keep track of the furthest position shown per log file, and say which
 * lines of a new frame are new. Lines of a file never seen are all new.
 */
export class Seen {
  constructor() {
    this.file = null;
    this.offset = -1;
  }

  fresh(placed) {
    const out = [];
    for (const item of placed) {
      if (item.file === null) {
        out.push(item);
        continue;
      }
      if (item.file !== this.file) {
        this.file = item.file;
        this.offset = -1;
      }
      if (item.offset > this.offset) {
        this.offset = item.offset;
        out.push(item);
      }
    }
    return out;
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
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  const others = names.length - 2;
  return `${names[0]}, ${names[1]} and ${others} ${others === 1 ? "other" : "others"} are typing…`;
}

export const CHANNEL_RULE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
