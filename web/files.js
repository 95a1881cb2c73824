// Sharing files: Attach (a real file input), a file dropped on the log, an image pasted into the
// message box. Each asks the channel on screen for a one-time URL ({"type": "upload"}), PUTs the
// bytes there with a progress bar, and the server writes the line; the refusal sentences are the
// server's, shown in the alert box. Lines of shared files show an image's thumbnail (its size
// reserved, loaded lazily; a click or Enter opens the full image in a dialog) or a link to the file.
import { $ } from "./dom.js";

const THUMBNAIL_BOX = 400; // the server's thumbnails fit in 400 x 400

/** A size as people read it: 12 bytes, 512 KB, 2.1 MB. */
export function sizeText(bytes) {
  const units = [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["KB", 1024]];
  for (const [unit, scale] of units) {
    if (bytes >= scale) return `${(bytes / scale).toFixed(1).replace(/\.0$/, "")} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** The size a thumbnail of a width x height image is shown at (what its box reserves). */
export function thumbnailSize(width, height) {
  const scale = Math.min(1, THUMBNAIL_BOX / width, THUMBNAIL_BOX / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * hooks: send(request) -> whether it went out on the channel on screen; showAlert(text); clearAlert();
 * refusal() -> why no file may be shared on the channel on screen now, or null.
 */
export function createFiles(hooks) {
  const ui = {
    input: $("attach"), log: $("log"), message: $("message"), progress: $("upload-progress"),
    status: $("upload-status"), dialog: $("image-dialog"), image: $("image-full"), title: $("image-title"),
  };
  const waiting = []; // files asked for, in order: each "upload" event is for the first

  function share(file) {
    if (!file) return;
    const refused = hooks.refusal();
    if (refused) {
      hooks.showAlert(refused);
      return;
    }
    const caption = ui.message.value.trim();
    const request = { type: "upload", name: file.name || "pasted-image.png", size: file.size };
    if (caption && !caption.startsWith("/")) request.caption = caption;
    if (!hooks.send(request)) {
      hooks.showAlert("Not connected: nothing was sent.");
      return;
    }
    waiting.push({ file, caption: request.caption !== undefined });
    ui.status.textContent = `Preparing ${request.name}…`;
  }

  function put(url, item) {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    ui.progress.hidden = false;
    ui.progress.value = 0;
    ui.status.textContent = `Sending ${item.file.name || "the image"}…`;
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) ui.progress.value = event.loaded / event.total;
    });
    xhr.addEventListener("loadend", () => {
      ui.progress.hidden = true;
      let answer = {};
      try {
        answer = JSON.parse(xhr.responseText || "{}");
      } catch {
        // not JSON: the status says enough
      }
      if (xhr.status === 201) {
        ui.status.textContent = `Shared ${answer.name}.`;
        if (item.caption) {
          ui.message.value = "";
          ui.message.dispatchEvent(new Event("input")); // the counter and the draft follow the box
        }
        hooks.clearAlert();
      } else {
        ui.status.textContent = "";
        hooks.showAlert(answer.error ?? `The file was not shared (HTTP ${xhr.status || "error"}).`);
      }
    });
    xhr.send(item.file);
  }

  ui.input.addEventListener("change", () => {
    share(ui.input.files?.[0]);
    ui.input.value = "";
  });
  ui.log.addEventListener("dragover", (event) => {
    if ([...(event.dataTransfer?.types ?? [])].includes("Files")) event.preventDefault();
  });
  ui.log.addEventListener("drop", (event) => {
    if (!event.dataTransfer?.files?.length) return;
    event.preventDefault();
    share(event.dataTransfer.files[0]);
  });
  ui.message.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
    if (!file) return;
    event.preventDefault();
    share(file);
  });
  $("image-close").addEventListener("click", () => ui.dialog.close());
  ui.dialog.addEventListener("close", () => ui.image.removeAttribute("src"));

  function openImage(file) {
    ui.title.textContent = file.name;
    ui.image.alt = file.name;
    ui.image.src = file.url;
    ui.dialog.showModal();
  }

  return {
    /** Another channel comes on screen: what was said of a finished upload is the old channel's. */
    switching() {
      if (ui.progress.hidden) ui.status.textContent = "";
    },
    /** The server gave the URL for the first file waiting: send its bytes. */
    ticket(data) {
      const item = waiting.shift();
      if (item) put(data.url, item);
    },
    /** A refusal of the channel on screen: if a file was waiting for its URL, it is not coming. */
    refused() {
      if (waiting.length) {
        waiting.shift();
        ui.status.textContent = "";
      }
    },
    /** Show the file the frame says this line shares (`file`: url, name, size, type, width, height, thumbnail). */
    show(item, file) {
      const text = item.querySelector(":scope > .text");
      const caption = text?.textContent.split(` ${file.url}`).slice(1).join(` ${file.url}`).trim() ?? "";
      const box = document.createElement("div");
      box.className = "file";
      if (file.thumbnail && file.width && file.height) {
        const open = document.createElement("button");
        open.type = "button";
        open.className = "file-preview";
        open.setAttribute("aria-label", `Open the image ${file.name}`);
        const image = document.createElement("img");
        const size = thumbnailSize(file.width, file.height);
        image.src = file.thumbnail;
        image.alt = file.name;
        image.width = size.width;
        image.height = size.height;
        image.loading = "lazy";
        open.append(image);
        open.addEventListener("click", () => openImage(file));
        box.append(open);
      } else {
        const link = document.createElement("a");
        link.href = file.url;
        link.textContent = file.name;
        link.setAttribute("download", file.name);
        box.append(link, ` (${file.type}, ${sizeText(file.size)})`);
      }
      if (text) {
        text.textContent = caption;
        text.hidden = !caption;
        text.before(box);
      } else {
        item.append(box);
      }
    },
  };
}
