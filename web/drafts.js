// Drafts: the unsent text of the message box, per handle and channel (and of a thread's box, per thread),
// kept in this browser (localStorage) as it is typed; restored on switching back and after a reload,
// forgotten once sent.
import { remember, remembered } from "./dom.js";
import { myHandle } from "./session.js";

const key = (channel, thread) => `draft:${myHandle()}:${channel}${thread ? `:${thread}` : ""}`;

/** The draft of `channel`'s box (or of the thread whose root is `thread`); "" when none. */
export function loadDraft(channel, thread = null) {
  const text = remembered(key(channel, thread), "");
  return typeof text === "string" ? text : "";
}

/** Keep `text` as the draft (empty: forget it). */
export function saveDraft(channel, text, thread = null) {
  if (channel) remember(key(channel, thread), text ? text : null);
}
