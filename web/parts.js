// The page's parts, made once and joined: each frame from the server goes to the part it is for.
import { createComposer } from "./composer.js";
import { createConnection } from "./connection.js";
import { $, session, showAlert } from "./dom.js";
import { createLogView } from "./logview.js";
import { createModeration, tokenOperator } from "./moderation.js";
import { createFinder } from "./search.js";
import { createUsers } from "./users.js";

/**
 * page: state(name, text) shows the connection state; accepted() when a join was taken;
 * closed() when a socket ended; presence(channel, count) when a users list came.
 */
export function composeParts(page) {
  const connection = createConnection({
    state: page.state,
    opening: () => users.clearTyping(),
    accepted: page.accepted,
    frame: onFrame,
    closed: page.closed,
  });
  // Requests that need the join taken (moderation, jumps) and those that need only the socket.
  const sendJoined = (request) => connection.send(request, true);
  const send = (request) => connection.send(request);

  const moderation = createModeration({
    send: sendJoined,
    me: () => session.me,
    operator: () => tokenOperator(session.token(), session.channel),
    showAlert,
  });
  setInterval(() => moderation.sweep(), 30_000);

  const finder = createFinder({
    channel: () => session.channel || $("channel").value,
    token: () => session.token(),
    send: sendJoined,
    renderFrame: (data) => log.renderFrame(data),
    showAlert,
    onLive: () => {
      log.hideJump();
      composer.focus();
    },
  });

  const log = createLogView({ decorate: moderation.decorate, jumpActive: finder.active, send });
  const composer = createComposer({ send, sent: () => log.toBottom() });
  const users = createUsers({ startPrivate: (handle) => composer.startPrivate(handle), controls: moderation.userControls });

  function onFrame(frame) {
    if (frame.success === false) {
      finder.onRefusal(frame.message ?? "");
      showAlert(frame.message ?? "Error");
    } else if (frame.event) {
      onEvent(frame.event, frame.data ?? {});
    } else if (typeof frame.data?.message === "string") {
      log.appendLines(frame.data);
    }
  }

  function onEvent(event, data) {
    switch (event) {
      case "presence":
        // The whole list when joining (or when far behind), then only what changed.
        if (Array.isArray(data.users)) users.show(data.users); else users.apply(data.joined ?? [], data.left ?? []);
        page.presence(data.channel, users.count());
        break;
      case "typing":
        users.typing(data.handle, data.typing);
        break;
      case "private":
        log.appendLine(data.message);
        break;
      case "deleted":
        moderation.deleted(data.cursor);
        break;
      case "token":
        session.resumeToken = data.token; // valid for this channel only, renewed while connected
        break;
      case "resumed":
        if (!data.recovered) {
          // The server cannot replay exactly (the log was rotated or trimmed):
          // start the view again from the lines it sends next.
          log.reset();
          log.notice("Some lines written while you were away may not be shown.");
        }
        break;
      case "history":
        if (!finder.onHistory(data)) log.older(data);
        break;
      default:
        break;
    }
  }

  return {
    connection, composer, users,
    /** A new join: the log, the users and the search of the last channel are gone. */
    reset() {
      finder.reset();
      log.reset();
      users.clear();
      log.hideJump();
    },
  };
}
