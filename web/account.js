// Accounts on the page (when /api/settings says "accounts"): the sign-in screen, creating an
// account (with the invitation of the link, or when sign-up is open), and signing out. The
// session is an HttpOnly cookie: this module never sees it; the server says who it signs in.
import { $, clearAlert, showAlert } from "./dom.js";

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
  const ui = {
    screen: $("sign-in-screen"), form: $("sign-in"), handle: $("account-handle"), password: $("password"),
    create: $("create-account"), signOut: $("sign-out"),
  };
  // An invitation link: /?invite=CODE. The code leaves the address bar at once, as a token does.
  const params = new URLSearchParams(location.search);
  const invite = params.get("invite");
  if (invite) {
    params.delete("invite");
    const query = params.toString();
    history.replaceState(history.state, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  }
  ui.create.hidden = !(invite || signUp === "open");

  async function send(path, body) {
    clearAlert();
    try {
      const response = await fetch(path, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) return answer.handle;
      showAlert(answer.error ?? `The server answered ${response.status}.`);
    } catch {
      showAlert("Could not reach the chat server.");
    }
    ui.password.focus();
    return null;
  }

  function entered(handle) {
    if (!handle) return;
    ui.password.value = "";
    ui.screen.hidden = true;
    ui.signOut.hidden = false;
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
  ui.signOut.addEventListener("click", async () => {
    await fetch("/api/session", { method: "DELETE" }).catch(() => null);
    location.reload();
  });
  return {
    /** Show the sign-in screen (with why, when a session ended). */
    show(reason = "") {
      ui.screen.hidden = false;
      ui.signOut.hidden = true;
      if (reason) showAlert(reason);
      ui.handle.focus();
    },
    signedIn() {
      ui.signOut.hidden = false;
    },
  };
}
