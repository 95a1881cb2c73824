// One open channel: its socket, its log, its users, and how far its reader has read. Frames from
// its socket go to its own parts; the page's shared parts (composer, search, moderation dialog)
// act on whichever channel is on screen.
import { createConnection } from "./connection.js";
import { createLogView } from "./logview.js";
import { createUsers } from "./users.js";
import { myHandle, setResumeToken, tokenFor } from "./session.js";

/**
 * shared: moderation, finder, composer (the page's parts); shown(room) -> whether it is on screen;
 * state(room) when its connection state changed; changed(room) when its counts changed;
 * ended(room, accepted) when its socket gave up (refused, removed); alert(room, text);
 * notify(room, title, body) for a mention or a private line while the page is not looked at.
 */
export function createRoom(name, shared) {
  const room = {
    name,
    lastCursor: null,    // after the last line received: resume from here
    presenceVersion: null, // the version of the users list we hold: a resume sends it (no list if unchanged)
    position: null,      // the read position the server keeps for us (a "read" event), or null
    baseline: null,      // without a stored position: the end of the first backlog counts as read (log.mark())
    topic: "",           // the channel's topic (a "topic" event)
    privateUnread: 0,    // private lines to us not seen yet (they have no cursor: counted here)
    status: { state: "connecting", text: "Connecting…" },
    everAccepted: false,
    token() { return tokenFor(name); },
  };
  const shown = () => shared.shown(room);
  const looking = () => shown() && document.visibilityState === "visible";
  let fresh = true; // the next presence list is the first of a join that did not resume

  function setState(state, text) {
    room.status = { state, text: state === "connected" ? `Connected to ${name} as ${myHandle()}` : text };
    shared.state(room);
    if (state === "disconnected" && !room.connection.wanted()) shared.ended(room, room.everAccepted);
  }

  room.connection = createConnection(room, {
    state: setState,
    opening: () => room.users.clearTyping(),
    accepted() {
      room.everAccepted = true;
      fresh = room.lastCursor === null;
      setState("connected", "");
      shared.secrets.publish(room); // this device's public key, for private messages to us
    },
    frame: onFrame,
    closed: () => {},
  });

  room.log = createLogView({
    decorate: (item, parsed, cursor, deleted, live) => shared.moderation.decorate(item, parsed, cursor, deleted, live, room),
    decoratePrivate: (item, parsed, cursor, live) => shared.moderation.decoratePrivate(item, parsed, cursor, live),
    annotate: (item, parsed, cursor, index, data, live) => {
      shared.secrets.reveal(room, item, parsed);
      shared.annotations.annotate(item, parsed, cursor, index, data, live);
    },
    reveal: (item, parsed) => shared.secrets.reveal(room, item, parsed),
    jumpActive: () => shown() && shared.finder.active(),
    send: (request) => room.connection.send(request, true),
    shown,
    me: () => myHandle(),
  });
  room.users = createUsers({
    startPrivate: (handle) => shared.composer.startPrivate(handle),
    controls: (handle) => [...shared.moderation.userControls(handle), ...shared.secrets.controls(room, handle)],
    shown,
  });

  function onFrame(frame) {
    if (frame.success === false) {
      if (shown()) {
        shared.finder.onRefusal(frame.message ?? "");
        shared.files.refused();
      }
      shared.alert(room, frame.message ?? "Error");
    } else if (frame.event) {
      onEvent(frame.event, frame.data ?? {});
    } else if (typeof frame.data?.message === "string") {
      room.lastCursor = frame.data.cursor ?? room.lastCursor;
      for (const { item, parsed } of room.log.appendLines(frame.data)) {
        if (item.classList.contains("mentions-me") && !looking()) {
          shared.notify(room, `${parsed.handle} mentioned you in ${name}`, parsed.text);
        }
      }
      shared.changed(room);
    }
  }

  function onEvent(event, data) {
    switch (event) {
      case "presence":
        // The whole list when joining (or when far behind), then only what changed.
        if (Array.isArray(data.users)) room.users.show(data.users); else room.users.apply(data.joined ?? [], data.left ?? []);
        if (typeof data.version === "string") room.presenceVersion = data.version;
        if (fresh) {
          fresh = false;
          room.baseline = room.log.mark(); // the backlog came first: without a stored position it counts as read
        }
        shared.changed(room);
        break;
      case "typing":
        room.users.typing(data.handle, data.typing);
        break;
      case "private": {
        const placed = room.log.privateLine(data); // null: shown already
        if (!placed || data.history) break; // a backlog's: not news
        const { parsed } = placed;
        if (parsed.handle !== myHandle() && !looking()) {
          room.privateUnread += 1;
          shared.notify(room, `${parsed.handle} (private, ${name})`, parsed.text);
          shared.changed(room);
        }
        break;
      }
      case "topic": // on joining, and when an operator sets it (IRC's TOPIC too)
        room.topic = data.topic;
        shared.topic(room);
        break;
      case "kept": // a private line to an account not here now: written, and shown to it when it joins
        room.log.notice(data.message);
        break;
      case "deleted":
        shared.moderation.deleted(data.cursor, shown() ? [room.log.list, document.getElementById("jumped")] : [room.log.list],
          data.private === true);
        shared.changed(room);
        break;
      case "reactions":
      case "edited":
      case "thread":
        shared.annotations.apply(event, data, shown() ? [room.log.list, document.getElementById("jumped")] : [room.log.list]);
        break;
      case "key":
        shared.secrets.key(room, data);
        break;
      case "upload":
        shared.files.ticket(data);
        break;
      case "token":
        setResumeToken(name, data.token); // valid for this channel only, renewed while connected
        break;
      case "read": {
        const first = room.position === null;
        room.position = data.cursor;
        if (first && shown()) room.log.divide(room.position, room.baseline);
        shared.changed(room);
        break;
      }
      case "resumed":
        if (!data.recovered) {
          // The server cannot replay exactly (the log was rotated or trimmed):
          // start the view again from the lines it sends next.
          room.log.reset();
          room.log.notice("Some lines written while you were away may not be shown.");
        }
        break;
      case "history":
        if (!(shown() && shared.finder.onHistory(data))) room.log.older(data);
        break;
      default:
        break;
    }
  }

  return Object.assign(room, {
    /** Unread lines and mentions (private lines to us count as both). */
    counts() {
      const { lines, mentions } = room.log.unread(room.position, room.baseline);
      return { unread: lines + room.privateUnread, mentions: mentions + room.privateUnread };
    },
    /** The reader has seen the bottom: move the read position to the last line. */
    markRead() {
      const last = room.log.lastCursor();
      const moved = last !== null && room.log.behind(room.position, room.baseline);
      if (moved && room.connection.send({ type: "read", cursor: last }, true)) room.position = last;
      if (moved || room.privateUnread) {
        room.privateUnread = 0;
        shared.changed(room);
      }
    },
    /** Whether there is anything to mark read. */
    behind() {
      return room.privateUnread > 0 || room.log.behind(room.position, room.baseline);
    },
    open() {
      room.connection.start();
    },
    close() {
      room.connection.stop();
    },
  });
}
