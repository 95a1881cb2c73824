// One log line as a list item: its time, its author, its text formatted (markdown.js: a subset of
// Markdown, links and @mentions marked, never HTML of the text), and what the conversation view needs
// to group it (author, date, seconds).
import { localTime, parseLine, presenceChange } from "./loglines.js";
import { isBot, myHandle, serverRules } from "./session.js";
import { textPieces } from "./text.js";
import { copyButton, fillFormatted } from "./markdown.js";

// A moderator's record of a deletion: the deleted line itself already says "message deleted".
const DELETION_RECORD = /^the message of \S+ at .+ was (deleted|erased) by /;

/** Append `text` to `node` formatted: elements of the subset, text nodes, links and mention marks; return
 * whether it mentions us (not inside code). */
export function fillText(node, text) {
  node.dataset.source = text; // as typed: what Edit starts from (the formatting hides the syntax)
  return fillFormatted(node, text, fillPlain, copyButton); // the subset of Markdown (markdown.js)
}

/** Append a run of plain text: links and mentions (text.js); whether it mentions this page's handle. */
function fillPlain(node, text) {
  let mentioned = false;
  for (const piece of textPieces(text, myHandle(), serverRules().handle)) {
    if (piece.kind === "link") {
      const link = document.createElement("a");
      link.href = piece.href;
      link.textContent = piece.text;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      node.append(link);
    } else if (piece.kind === "mention") {
      const mark = document.createElement("span");
      mark.className = piece.me ? "mention me" : "mention";
      mark.textContent = piece.text;
      node.append(mark);
      mentioned ||= piece.me;
    } else {
      node.append(piece.text);
    }
  }
  return mentioned;
}

const BLOCKS = new Set(["P", "UL", "OL", "LI", "BLOCKQUOTE"]);

/** Say "(edited)" at the end of a line's text, inline with its last words (once, wherever the text was filled). */
export function markEdited(item) {
  const span = item.querySelector(":scope > .text");
  if (!span) return;
  span.querySelector(".edited")?.remove();
  let host = span;
  while (host.lastElementChild && BLOCKS.has(host.lastElementChild.tagName)) host = host.lastElementChild;
  const mark = document.createElement("span");
  mark.className = "edited";
  mark.textContent = "(edited)";
  host.append(" ", mark);
}

/**
 * A line's <time>: `text` shown, the full date and time with the zone as its tooltip and said in its place
 * (a screen reader reads the words, the eye sees the short form); `data-stamp` keeps the log's own stamp.
 */
export function timeElement(parsed, shown, text) {
  const time = document.createElement("time");
  time.dateTime = shown.iso;
  time.title = shown.full;
  time.dataset.stamp = `${parsed.date} ${parsed.time}`;
  const visible = document.createElement("span");
  visible.setAttribute("aria-hidden", "true");
  visible.textContent = text;
  const said = document.createElement("span");
  said.className = "visually-hidden";
  said.textContent = shown.full;
  time.append(visible, said);
  return time;
}

/** Render one log line (a private one too): an <li class="line"> with data-who, data-date and data-at. */
export function renderLine(line) {
  const parsed = parseLine(line);
  const item = document.createElement("li");
  item.className = parsed.system ? "line system" : "line";
  const change = presenceChange(parsed);
  if (change) {
    item.dataset.presence = change.kind; // a join or leave line: runs of them fold (fold.js)
    item.dataset.who = change.handle;
  }
  if (parsed.system && DELETION_RECORD.test(parsed.text)) {
    item.classList.add("record"); // kept in the list (it is a line of the log), not shown: one act, one row
  }
  if (parsed.handle && parsed.handle === myHandle()) {
    item.classList.add("own");
  }
  if (parsed.time) {
    const shown = localTime(parsed.date, parsed.time); // in this browser's zone (the log's is the server's)
    item.append(timeElement(parsed, shown, shown.time), " ");
    item.dataset.date = shown.date;
    item.dataset.at = String(shown.ms / 1000);
  }
  if (parsed.to) {
    item.classList.add("private");
    if (parsed.handle === myHandle() || parsed.to === myHandle()) item.classList.add("own");
    const tag = document.createElement("span");
    tag.className = "private-tag";
    tag.textContent = "private";
    item.append(tag, " ");
  }
  if (parsed.handle && !parsed.system) {
    item.dataset.author = parsed.handle;
    const who = document.createElement("span");
    who.className = "handle";
    who.textContent = parsed.to ? `${parsed.handle} → ${parsed.to}` : parsed.handle;
    item.append(who, " ");
    if (isBot(parsed.handle)) {
      item.classList.add("bot");
      const tag = document.createElement("span");
      tag.className = "bot-tag";
      tag.textContent = "bot";
      item.append(tag, " ");
    }
  }
  const text = document.createElement("span");
  text.className = "text";
  // An action (IRC's /me) and a notice are chat lines whose text starts with /me or /notice (docs/protocol.md "IRC").
  const kind = parsed.system ? null : /^\/(me|notice) /.exec(parsed.text)?.[1];
  if (kind) item.classList.add(kind === "me" ? "action" : "notice-line");
  const shown = kind ? parsed.text.slice(kind.length + 2) : parsed.text;
  if (!parsed.system && fillText(text, shown) && parsed.handle !== myHandle()) {
    item.classList.add("mentions-me");
  }
  if (parsed.system) text.textContent = parsed.text;
  item.append(text);
  return { item, parsed };
}
