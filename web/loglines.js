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

// ---------------------------------------------------------------- the server's zone and the reader's

// The log's stamps are wall-clock times in the server's zone (--timezone, told by /api/settings); the page
// shows them in the browser's own zone. The platform's time zone data (Intl) does the conversion.
let serverZone = "UTC";
const zoneFormats = new Map();

function zoneFormat(zone) {
  if (!zoneFormats.has(zone)) {
    zoneFormats.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  return zoneFormats.get(zone);
}

/** Take the server's zone (an IANA name); one this browser does not know is taken as UTC. */
export function setServerZone(zone) {
  try {
    zoneFormat(zone);
    serverZone = zone;
  } catch {
    serverZone = "UTC";
  }
}

/** The wall-clock fields of the instant `ms` in `zone`: [year, month, day, hour, minute, second]. */
function wallClock(ms, zone) {
  const parts = Object.fromEntries(zoneFormat(zone).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return ["year", "month", "day", "hour", "minute", "second"].map((name) => Number(parts[name]));
}

/** The instant (ms since the epoch) of a stamp written in the server's zone. */
export function stampInstant(date, time) {
  const wall = Date.parse(`${date}T${time}Z`);
  if (serverZone === "UTC" || Number.isNaN(wall)) return wall;
  const offset = (ms) => {
    const [y, mo, d, h, mi, s] = wallClock(ms, serverZone);
    return Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(ms / 1000) * 1000;
  };
  const guess = wall - offset(wall);
  return wall - offset(guess); // twice: right on both sides of a change of offset
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/**
 * A line's time as this browser shows it: {date: "YYYY-MM-DD", time: "HH:MM:SS"} in its own zone, the
 * instant (`ms`, `iso`) and `full`, the date and time with the zone's name ("Sunday, November 22, 2026 at
 * 6:07:03 AM PST"), for the tooltip and what a screen reader says.
 */
export function localTime(date, time) {
  const ms = stampInstant(date, time);
  if (Number.isNaN(ms)) return { date, time, ms, iso: `${date}T${time}`, full: `${date} ${time}` };
  const at = new Date(ms);
  return {
    date: `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`,
    time: `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`,
    ms,
    iso: at.toISOString(),
    full: new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" }).format(at),
  };
}

/** A parsed line's time as shown here ("HH:MM:SS" in the browser's zone; "" for a line without one). */
export function shownTime(parsed) {
  return parsed.time ? localTime(parsed.date, parsed.time).time : "";
}

/** A local date and time ("2026-11-22T14:00" from a date picker) as the server's zone writes it ("2026-11-22 22:00:00"). */
export function serverStamp(local) {
  const at = new Date(local); // a date-time without a zone is the browser's own
  if (Number.isNaN(at.getTime())) return local.replace("T", " ");
  const [y, mo, d, h, mi, s] = wallClock(at.getTime(), serverZone);
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
}

/** "Tuesday, 1 December 2026" for a line's date ("2026-12-01"). */
export function dayLabel(date) {
  const [year, month, day] = date.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, month - 1, day)));
}
