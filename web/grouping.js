// The log read as a conversation: consecutive lines of one author within a few minutes share one
// name and time (later ones get class "cont"), a separator row starts each new day, and a
// "New messages" row stands before the first unread line. Rows other than lines (separators,
// folds) are <li> without class "line", so what lists the log's lines still finds exactly them.
import { dayLabel, GROUP_SECONDS } from "./loglines.js";

const shown = (node) => node.classList.contains("line") && !node.classList.contains("record");

function dayRow(date) {
  const row = document.createElement("li");
  row.className = "day";
  row.dataset.date = date;
  row.dataset.linked = "";
  const label = document.createElement("span");
  label.textContent = dayLabel(date);
  row.append(label);
  return row;
}

/** The last dated line before `node` (plain or inside a fold), and whether a non-line row came between. */
function previousLine(node) {
  let broken = false;
  for (let row = node.previousElementSibling; row; row = row.previousElementSibling) {
    if (row.classList.contains("day")) return { line: null, date: row.dataset.date, broken: true };
    if (row.classList.contains("fold")) {
      const inner = row.querySelector("ol").lastElementChild;
      return { line: null, date: inner?.dataset.date ?? null, broken: true };
    }
    if (row.classList.contains("line") && shown(row) && row.dataset.date) return { line: row, date: row.dataset.date, broken };
    if (!row.classList.contains("record")) broken = true; // a notice or the divider
  }
  return { line: null, date: null, broken: true };
}

/** Group and separate the rows of `list` from `first` (a row of it) to its end. */
export function linkRows(list, first) {
  for (let row = first; row; row = row.nextElementSibling) {
    row.dataset.linked = "";
    if (row.classList.contains("day")) continue;
    const date = row.dataset.date ?? row.querySelector?.("ol > li[data-date]")?.dataset.date;
    if (!date || !(shown(row) || row.classList.contains("fold"))) continue;
    const before = previousLine(row);
    if (before.date !== date) {
      row.before(dayRow(date));
      row.classList.remove("cont");
      continue;
    }
    const author = row.dataset.author;
    const same = before.line && !before.broken && author && !row.classList.contains("private")
      && !before.line.classList.contains("private") && before.line.dataset.author === author
      && Number(row.dataset.at) - Number(before.line.dataset.at) <= GROUP_SECONDS;
    row.classList.toggle("cont", Boolean(same));
  }
}

/** Group and separate the rows at the end of `list` not done yet (live lines just appended). */
export function linkNew(list) {
  let row = list.lastElementChild;
  while (row && !("linked" in row.dataset)) row = row.previousElementSibling;
  linkRows(list, row ? row.nextElementSibling : list.firstElementChild);
}

/** Group and separate every row of `list` again (after older lines were put before it). */
export function relinkAll(list) {
  for (const row of [...list.querySelectorAll(":scope > li.day")]) row.remove();
  linkRows(list, list.firstElementChild);
}

/** Put the "New messages" row before `item` in `list` (or nowhere with null); return the row. */
export function placeDivider(list, item) {
  list.querySelector(":scope > li.divider")?.remove();
  if (!item) return null;
  const row = document.createElement("li");
  row.className = "divider";
  const label = document.createElement("span");
  label.textContent = "New messages";
  row.append(label);
  // Inside a fold, the divider goes before the fold.
  const top = item.parentElement === list ? item : item.closest("li.fold") ?? item;
  top.before(row);
  linkRows(list, row); // the line after it starts a group of its own
  return row;
}

/** The time (seconds) of a row: a line's, or a fold's last line's; null for other rows (days, notices). */
function rowTime(row) {
  const at = row.dataset.at ?? (row.classList.contains("fold") ? row.querySelector("ol").lastElementChild?.dataset.at : undefined);
  return at === undefined ? null : Number(at);
}

/** Put `item` (a line) among the rows of `list` after the last one stamped no later (the caller relinks). */
export function placeByTime(list, item) {
  const at = Number(item.dataset.at);
  for (let row = list.lastElementChild; row; row = row.previousElementSibling) {
    const time = rowTime(row);
    if (time !== null && time <= at) {
      row.after(item);
      return;
    }
  }
  list.prepend(item);
}

/** Lines in log order with `extra` lines (private ones, oldest first) put in by their times. */
export function byTime(items, extra) {
  if (!extra.length) return items;
  const out = [];
  let next = 0;
  for (const item of items) {
    while (next < extra.length && Number(extra[next].dataset.at) < Number(item.dataset.at ?? -Infinity)) out.push(extra[next++]);
    out.push(item);
  }
  return [...out, ...extra.slice(next)];
}
