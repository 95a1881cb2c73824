// Log lines as the page reads them: parse a line, undo the server's escaping, a join or a leave,
// a line's time and day. No DOM here: tests import this module on its own.
// Cursors are not here on purpose: they are the server's opaque names for positions,
// kept and sent back as they came (see docs/protocol.md).

// A handle here is whatever the line names before its colon (no space, no colon): the handle rule is the
// server's, and a line logged under an older rule still reads.
const LINE_RE = /^\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\] ([^\s:]+)(?: -> ([^\s:]+))?: ([\s\S]*)$/;
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

const PRESENCE_TEXT = /^(\S+) has (joined|left) the chat$/;

/** A parsed line's join or leave: {kind: "joined" | "left", handle}, or null for any other line. */
export function presenceChange(parsed) {
  const match = parsed.system ? PRESENCE_TEXT.exec(parsed.text) : null;
  return match ? { kind: match[2], handle: match[1] } : null;
}

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
