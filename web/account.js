// Accounts on the page (when /api/settings says "accounts"): the sign-in screen, creating an
// account (with the invitation of the link, or when sign-up is open), and the Account dialog
// (change the password, sign out here or everywhere). The session is an HttpOnly cookie: this
// module never sees it; the server says who it signs in.
import { $, clearAlert, showAlert } from "./dom.js";
import { addPasskey, listPasskeys, passkeysWork, removePasskey, signInWithPasskey } from "./passkeys.js";

/** The handle the session cookie signs in, or null (not signed in, or the server could not say). */
export async function whoAmI() {
  try {
    const response = await fetch("/api/session");
    return response.ok ? (await response.json()).handle : null;
  } catch {
    return null;
  }
}

/** signUp: the server's sign-up mode; signedIn(handle) once a sign-in or a new account worked. */
export function setUpAccounts({ signUp, signedIn }) {
  // The parts exist only with accounts: put them in place from their template.
  const parts = $("account-parts").content.cloneNode(true);
  document.querySelector("header .tools").before(parts.getElementById("account"));
  $("connect-screen").before(parts.getElementById("sign-in-screen"));
  document.body.append(parts.getElementById("account-dialog"));
  const ui = {
    screen: $("sign-in-screen"), form: $("sign-in"), handle: $("account-handle"), password: $("password"),
    create: $("create-account"), account: $("account"), dialog: $("account-dialog"), who: $("account-who"),
    passwordForm: $("password-form"), current: $("current-password"), next: $("new-password"),
    status: $("account-status"), passkeySignIn: $("passkey-sign-in"), passkeys: $("passkeys"),
    passkeyList: $("passkey-list"), passkeyName: $("passkey-name"), addPasskey: $("add-passkey"),
  };
  const withPasskeys = passkeysWork();
  ui.passkeySignIn.hidden = !withPasskeys;
  ui.passkeys.hidden = !withPasskeys;
  // An invitation link: /?invite=CODE. The code leaves the address bar at once, as a token does.
  const params = new URLSearchParams(location.search);
  const invite = params.get("invite");
  if (invite) {
    params.delete("invite");
    const query = params.toString();
    history.replaceState(history.state, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  }
  ui.create.hidden = !(invite || signUp === "open");

  /** POST `body`; the answer's handle, or null with the refusal's sentence said (by `say`). */
  async function send(path, body, say = showAlert) {
    clearAlert();
    try {
      const response = await fetch(path, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) return answer.handle;
      say(answer.error ?? `The server answered ${response.status}.`);
    } catch {
      say("Could not reach the chat server.");
    }
    return null;
  }

  function shown(handle) {
    ui.account.hidden = false;
    ui.who.textContent = `Signed in as ${handle}.`;
  }

  function entered(handle) {
    if (!handle) {
      ui.password.focus();
      return;
    }
    ui.password.value = "";
    ui.screen.hidden = true;
    shown(handle);
    signedIn(handle);
  }

  const fields = () => ({ handle: ui.handle.value.trim(), password: ui.password.value });
  ui.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    entered(await send("/api/session", fields()));
  });
  ui.create.addEventListener("click", async () => {
    entered(await send("/api/accounts", { ...fields(), invite }));
  });
  ui.passkeySignIn.addEventListener("click", async () => {
    clearAlert();
    const done = await signInWithPasskey();
    if (done.error) showAlert(done.error);
    else entered(done.handle);
  });

  // The Account dialog.
  const say = (text) => { ui.status.textContent = text; };
  const when = (stamp) => (stamp ? new Date(stamp * 1000).toLocaleDateString() : "never");
  async function paintPasskeys() {
    const keys = await listPasskeys();
    ui.passkeyList.replaceChildren(...keys.map((key) => {
      const item = document.createElement("li");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove passkey ${key.name}`);
      remove.addEventListener("click", async () => {
        const done = await removePasskey(key.id);
        say(done.error ?? `Passkey ${key.name} removed.`);
        await paintPasskeys();
      });
      item.append(`${key.name}: added ${when(key.created)}, last used ${when(key.last_used)} `, remove);
      return item;
    }));
  }
  ui.addPasskey.addEventListener("click", async () => {
    const done = await addPasskey(ui.passkeyName.value.trim());
    say(done.error ?? `Passkey ${done.key.name} added.`);
    if (!done.error) ui.passkeyName.value = "";
    await paintPasskeys();
  });
  ui.account.addEventListener("click", async () => {
    say("");
    ui.dialog.showModal();
    if (withPasskeys) await paintPasskeys();
  });
  $("account-close").addEventListener("click", () => ui.dialog.close());
  ui.passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await send("/api/account/password", { current: ui.current.value, new: ui.next.value }, say);
    if (done) {
      ui.current.value = "";
      ui.next.value = "";
      say("Password changed. Your other devices are signed out.");
    }
  });
  for (const [id, path] of [["sign-out", "/api/session"], ["sign-out-everywhere", "/api/sessions"]]) {
    $(id).addEventListener("click", async () => {
      await fetch(path, { method: "DELETE" }).catch(() => null);
      location.reload();
    });
  }

  return {
    /** Show the sign-in screen (with why, when a session ended). */
    show(reason = "") {
      if (ui.dialog.open) ui.dialog.close();
      ui.screen.hidden = false;
      ui.account.hidden = true;
      if (reason) showAlert(reason);
      ui.handle.focus();
    },
    /** The cookie signed `handle` in when the page loaded. */
    signedIn(handle) {
      shown(handle);
    },
  };
}
