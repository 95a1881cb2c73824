// Sentences the server sends that the page reacts to, exactly as docs/protocol.md gives them.
// Nothing else goes in this module: a test holds every string here against the server's table.
export const NO_CHANNEL = "No valid channel provided";
export const NO_HANDLE = "No valid handle provided";
export const HANDLE_TAKEN = "User already registered";
export const BANNED = "You are banned from this channel";
export const KICKED = "You were removed from the channel";
export const BAD_AROUND = "No line at that cursor";
export const BAD_AFTER = "History is not available after that cursor";
export const BAD_HISTORY = "Invalid history request: {problem}";
export const EMPTY_MESSAGE = "Message is empty";
export const TOO_LONG = "Message is too long (limit {limit} characters)";
export const SIGNED_OUT = "Signed out";
export const ACCOUNT_CLOSED = "Your account was disabled";

/** Fill a sentence's {placeholders}, as the server does. */
export function fill(sentence, values) {
  return sentence.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

/** The part of a sentence before its first placeholder: what a filled one starts with. */
export function prefix(sentence) {
  return sentence.split("{")[0];
}
