// The server's rules as the page applies them: read from /api/settings (never written here), and
// the sentences that say why a handle or a channel name cannot be used. No DOM here.

/**
 * The rules of the server's /api/settings answer, as the page applies them: patterns as RegExps
 * (the server's own patterns, which mean the same in JavaScript), the own-line window in ms.
 */
export function rulesFrom(body) {
  return {
    maxChars: body.max_message_chars ?? 2000,
    allowNewChannels: Boolean(body.allow_new_channels),
    handle: body.handle_pattern ? new RegExp(body.handle_pattern) : null,
    handleHint: body.handle_hint ?? "",
    reserved: body.reserved_handles ?? [],
    channel: body.channel_pattern ? new RegExp(body.channel_pattern) : null,
    channelHint: body.channel_hint ?? "",
    ownLineMs: (body.own_line_seconds ?? 0) * 1000,
    editLineMs: (body.edit_line_seconds ?? 0) * 1000,
    accounts: Boolean(body.accounts),
    signUp: body.sign_up ?? "",
  };
}
/** Return why a handle cannot be used under `rules` (see rulesFrom), or "" if it can. */
export function handleProblem(handle, rules) {
  if (rules.handle && !rules.handle.test(handle)) {
    return `A handle is ${rules.handleHint}.`;
  }
  const reserved = rules.reserved.find((name) => name.toLowerCase() === handle.toLowerCase());
  if (reserved) {
    return `The handle ${reserved} is reserved.`;
  }
  return "";
}

/** Return whether `name` may be a channel under `rules` (no pattern loaded: the server decides). */
export function channelAllowed(name, rules) {
  return rules.channel ? rules.channel.test(name) : name !== "";
}

/** Return why `name` cannot be a channel under `rules`, or "" if it can. */
export function channelProblem(name, rules) {
  if (channelAllowed(name, rules)) return "";
  return rules.channelHint ? `A channel name is ${rules.channelHint}.` : "A channel needs a name.";
}
