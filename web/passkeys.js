// Passkeys on the page, with the platform's WebAuthn (no cryptography here): sign in without typing a
// handle, add one to the account, list and remove them. The server checks every answer.

/** Whether passkeys can work here: the browser has WebAuthn's JSON helpers, and the page has a host name. */
export function passkeysWork() {
  const named = !/^[\d.]+$/.test(location.hostname) && !location.hostname.includes(":");
  return named && window.isSecureContext && Boolean(window.PublicKeyCredential?.parseRequestOptionsFromJSON);
}

async function send(method, path, body) {
  try {
    const response = await fetch(path, {
      method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    return response.ok ? { answer } : { error: answer.error ?? `The server answered ${response.status}.` };
  } catch {
    return { error: "Could not reach the chat server." };
  }
}

/** Sign in with a passkey: {handle}, or {error} (the server's sentence, or why the browser stopped). */
export async function signInWithPasskey() {
  const options = await send("POST", "/api/passkeys/options", { purpose: "sign-in" });
  if (options.error) return options;
  let credential;
  try {
    credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.answer) });
  } catch {
    return { error: "No passkey was used." };
  }
  const done = await send("POST", "/api/session/passkey", { credential: credential.toJSON() });
  return done.error ? done : { handle: done.answer.handle };
}

/** Add a passkey named `name` to the signed-in account: {key}, or {error}. */
export async function addPasskey(name) {
  const options = await send("POST", "/api/passkeys/options", { purpose: "register" });
  if (options.error) return options;
  let credential;
  try {
    credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.answer),
    });
  } catch {
    return { error: "No passkey was made." };
  }
  const done = await send("POST", "/api/passkeys", { credential: credential.toJSON(), name });
  return done.error ? done : { key: done.answer };
}

/** The signed-in account's passkeys: [{id, name, created, last_used}]. */
export async function listPasskeys() {
  const done = await send("GET", "/api/session");
  return done.error ? [] : done.answer.passkeys ?? [];
}

/** Remove a passkey: {} or {error}. */
export async function removePasskey(id) {
  const done = await send("DELETE", `/api/passkeys/${encodeURIComponent(id)}`);
  return done.error ? done : {};
}
