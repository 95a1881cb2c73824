// Runs of join and leave lines folded into one row ("Alice, Bob and 38 others joined"), which
// opens to show the lines themselves: in a large channel a join storm would bury the conversation.
// The lines stay in the list, in order, inside the row; only how they are shown changes.

import { listNames } from "./lines.js";

export const RUN_MIN = 3; // a run this long or longer is folded; two in a row are shown as they are

/** The summary of a run: "Alice, Bob and 3 others joined; Carol left". */
export function summary(items) {
  const joined = items.filter((item) => item.dataset.presence === "joined").map((item) => item.dataset.who);
  const left = items.filter((item) => item.dataset.presence === "left").map((item) => item.dataset.who);
  return [joined.length ? `${listNames(joined, 3)} joined` : "", left.length ? `${listNames(left, 3)} left` : ""]
    .filter(Boolean).join("; ");
}

function isPresence(node) {
  return Boolean(node?.dataset?.presence);
}

function isFold(node) {
  return Boolean(node?.classList?.contains("fold"));
}

/** A row holding `items` (join and leave lines), closed unless `open`. */
function foldRow(items, open) {
  const row = document.createElement("li");
  row.className = "fold";
  const details = document.createElement("details");
  details.open = open;
  const head = document.createElement("summary");
  head.textContent = summary(items);
  const inner = document.createElement("ol");
  inner.append(...items);
  details.append(head, inner);
  row.append(details);
  return row;
}

/** Turn a sequence of items into rows: runs of RUN_MIN or more presence lines become one fold. */
function rows(items, open) {
  const out = [];
  let run = [];
  const flush = () => {
    if (run.length >= RUN_MIN) out.push(foldRow(run, open)); else out.push(...run);
    run = [];
  };
  for (const item of items) {
    if (isPresence(item)) {
      run.push(item);
    } else {
      flush();
      out.push(item);
    }
  }
  flush();
  return out;
}

/** Take the presence lines at one end of `list` (plain or folded) out of it; return them and whether a fold was open. */
function takeRun(list, atEnd) {
  const taken = [];
  let open = false;
  for (let node = atEnd ? list.lastElementChild : list.firstElementChild; node && (isPresence(node) || isFold(node));
    node = atEnd ? list.lastElementChild : list.firstElementChild) {
    const lines = isFold(node) ? [...node.querySelector("ol").children] : [node];
    open ||= isFold(node) && node.querySelector("details").open;
    node.remove();
    if (atEnd) taken.unshift(...lines); else taken.push(...lines);
  }
  return { taken, open };
}

/** Append `items` to `list`, folding runs, the one `list` ends with included. */
export function appendFolded(list, items) {
  const { taken, open } = takeRun(list, true);
  list.append(...rows([...taken, ...items], open));
}

/** Put `items` before the start of `list`, folding runs, the one `list` starts with included. */
export function prependFolded(list, items) {
  const { taken, open } = takeRun(list, false);
  list.prepend(...rows([...items, ...taken], open));
}
