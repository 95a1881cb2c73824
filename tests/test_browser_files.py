"""Sharing files in a real Chromium: attach through the file input, a preview, the full image, a refusal; axe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .support import Server, joined
from .support.browser import axe_violations, chat_page, wait_for_line
from .test_uploads import jpeg_with_gps_and_orientation

pytestmark = pytest.mark.timeout(120)


async def test_attach_a_picture_see_its_preview_and_open_it(server: Server, new_page: Any, connect: Any,
                                                             tmp_path: Path) -> None:
    """Attach (keyboard reachable), the thumbnail in the log with its size reserved, Enter opens it, Esc closes."""
    picture = tmp_path / "holiday.jpg"
    picture.write_bytes(jpeg_with_gps_and_orientation(600, 300))
    page = await chat_page(new_page, server, "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    attach = page.get_by_label("Attach")
    await attach.focus()
    assert await page.evaluate("document.activeElement.id") == "attach", "the file input takes the focus"
    await page.get_by_label("Message").fill("the beach")
    await attach.set_input_files(str(picture))
    preview = page.get_by_role("button", name="Open the image holiday.jpg")
    await preview.wait_for()
    image = preview.locator("img")
    assert (await image.get_attribute("width"), await image.get_attribute("height")) == ("200", "400")
    assert await image.get_attribute("loading") == "lazy"
    await page.wait_for_function("document.querySelector('.file-preview img').naturalWidth > 0")
    await wait_for_line(page, "the beach")
    line = await bob.until_line_frame("the beach")
    [file] = line["files"].values()
    assert file["name"] == "holiday.jpg"
    assert await page.get_by_label("Message").input_value() == "", "the caption went with the file"
    assert await axe_violations(page) == []
    await preview.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="holiday.jpg")
    await dialog.wait_for()
    full = dialog.get_by_role("img", name="holiday.jpg")
    await page.wait_for_function("document.getElementById('image-full').naturalWidth === 300")
    assert await full.get_attribute("src") == file["url"]
    assert await axe_violations(page) == []
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")
    assert page.errors == []


async def test_a_refused_file_says_the_servers_sentence(start_server: Any, new_page: Any, tmp_path: Path) -> None:
    """A file over --max-upload-bytes: the alert box shows the server's sentence; a plain file is a link."""
    server = await start_server("--max-upload-bytes", "1000")
    big, small = tmp_path / "big.bin", tmp_path / "notes.txt"
    big.write_bytes(b"x" * 5000)
    small.write_bytes(b"hello")
    page = await chat_page(new_page, server, "Alice")
    await page.get_by_label("Attach").set_input_files(str(big))
    await page.get_by_role("alert").filter(has_text="File is too large (limit 1000 bytes)").wait_for()
    await page.get_by_label("Attach").set_input_files(str(small))
    link = page.get_by_role("log").get_by_role("link", name="notes.txt")
    await link.wait_for()
    assert await link.get_attribute("download") == "notes.txt"
    assert await page.get_by_role("log").locator(".file").first.inner_text() == "notes.txt (text/plain, 5 bytes)"


async def test_drop_and_paste_share_files(server: Server, new_page: Any) -> None:
    """A file dropped on the log, and an image pasted into the message box, are shared like attached ones."""
    page = await chat_page(new_page, server, "Alice")
    dropped = await page.evaluate_handle("""() => {
        const data = new DataTransfer();
        data.items.add(new File(['dropped text'], 'dropped.txt', { type: 'text/plain' }));
        return data;
    }""")
    await page.dispatch_event("#log", "drop", {"dataTransfer": dropped})
    await page.get_by_role("log").get_by_role("link", name="dropped.txt").wait_for()
    await page.evaluate("""async () => {
        const canvas = Object.assign(document.createElement('canvas'), { width: 40, height: 20 });
        canvas.getContext('2d').fillRect(0, 0, 40, 20);
        const blob = await new Promise((done) => canvas.toBlob(done, 'image/png'));
        const data = new DataTransfer();
        data.items.add(new File([blob], 'screenshot.png', { type: 'image/png' }));
        document.getElementById('message').dispatchEvent(new ClipboardEvent('paste', { clipboardData: data }));
    }""")
    await page.get_by_role("button", name="Open the image screenshot.png").wait_for()
    assert page.errors == []
