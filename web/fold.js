// Runs of join and leave lines folded into one row ("Alice, Bob and 38 others joined"), which
// opens to show the lines themselves: in a large channel a join storm would bury the conversation.
// The lines stay in the list, in order, inside the row; only how they are shown changes.
import { listNames } from "./text.js";

export const RUN_MIN = 3; // a run this long or longer is folded; two in a row are shown as they are

const times = (count) => (count === 1 ? "" : count === 2 ? " twice" : ` ${count} times`);

/** What one person did in a run, from their joins and leaves in order: "joined", "left and came back twice". */
function story(events) {
  const steps = events.filter((event, i) => event !== events[i - 1]); // a repeat (two devices) is one step
  const [first, last, rounds] = [steps[0], steps.at(-1), Math.floor(steps.length / 2)];
  if (steps.length === 1) return first;
  if (first === "joined" && last === "left") return `joined and left${times(rounds)}`;
  if (first === "left" && last === "joined") return `left and came back${times(rounds)}`;
  if (first === "joined") return `joined, left and came back${times(rounds)}`;
  return `left, came back and left again${times(rounds)}`;
}

/**
 * The summary of a run, each handle named once: "Alice, Bob and 3 others joined; Carol left;
 * Dave joined and left twice". Those who only joined come first, then those who only left.
 */
export function summary(items) {
  const events = new Map(); // handle -> its joins and leaves in order
  for (const item of items) {
    const who = item.dataset.who;
    if (!events.has(who)) events.set(who, []);
    events.get(who).push(item.dataset.presence);
  }
  const groups = new Map([["joined", []], ["left", []]]); // story -> handles, in order of appearance
  for (const [who, happened] of events) {
    const said = story(happened);
    if (!groups.has(said)) groups.set(said, []);
    groups.get(said).push(who);
  }
  return [...groups].filter(([, handles]) => handles.length)
    .map(([said, handles]) => `${listNames(handles, 3)} ${said}`).join("; ");
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
