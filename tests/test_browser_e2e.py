"""End-to-end encryption in real Chromium pages: private messages, trust on first use, safety numbers, passphrases."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import SECRET, Server, joined, token
from .support.browser import axe_violations, chat_page, say, set_passphrase, wait_for_line

pytestmark = pytest.mark.timeout(120)


def users(page: Any) -> Any:
    return page.get_by_role("list", name="Users")


async def test_private_messages_are_end_to_end_and_safety_numbers_match(server: Server, new_page: Any,
                                                                          connect: Any) -> None:
    """Alice and Bob read each other in clear; the private log and the server's log hold no plain text."""
    alice = await chat_page(new_page, server, "Alice")
    bob = await chat_page(new_page, server, "Bob")
    await users(alice).get_by_role("button", name="Verify Bob").wait_for()  # Bob's key has reached Alice
    await say(alice, "/msg Bob the plan is at noon")
    for page in (alice, bob):
        line = page.get_by_role("log").locator("li.private", has_text="the plan is at noon")
        await line.wait_for()
        assert await line.get_by_role("img", name="Encrypted").count() == 1
    await users(bob).get_by_role("button", name="Verify Alice").wait_for()
    await say(bob, "/msg Alice noon it is")
    await alice.get_by_role("log").locator("li.private", has_text="noon it is").wait_for()
    private = (server.data_dir / "private_general.log").read_text(encoding="utf-8")
    assert "plan is at noon" not in private and "noon it is" not in private
    assert re.search(r"Alice -> Bob: e2e1\.[A-Za-z0-9_-]+\n", private)
    assert not any("plan is at noon" in line for line in server.lines), "the server's own log neither"

    numbers = []
    for page, other in ((alice, "Bob"), (bob, "Alice")):
        await users(page).get_by_role("button", name=f"Verify {other}").click()
        dialog = page.get_by_role("dialog", name=f"Verify {other}")
        number = await dialog.locator("#safety-number").inner_text()
        numbers.append(number)
        assert await axe_violations(page) == []
        await dialog.get_by_role("button", name="Close").click()
    assert numbers[0] == numbers[1] and re.fullmatch(r"(\d{5} ){11}\d{5}", numbers[0]), numbers
    assert alice.errors == [] and bob.errors == []


async def test_a_new_holder_of_a_handle_is_warned_about_before_sending(server: Server, new_page: Any) -> None:
    """Bob leaves; Carol joins as Bob with her own key: Alice's page says so, and sends nothing to Bob."""
    alice = await chat_page(new_page, server, "Alice")
    bob = await chat_page(new_page, server, "Bob")
    await users(alice).get_by_role("button", name="Verify Bob").wait_for()
    await bob.get_by_role("button", name="Disconnect").click()
    await users(alice).get_by_role("button", name="Verify Bob").wait_for(state="detached")
    await chat_page(new_page, server, "Bob")  # another browser: another key
    await alice.get_by_role("log").get_by_text("Bob's key has changed").wait_for()
    before = (server.data_dir / "private_general.log").read_text() if (server.data_dir / "private_general.log").exists() else ""
    await say(alice, "/msg Bob are you still you?")
    await alice.get_by_role("alert").filter(has_text="Bob's key has changed").wait_for()
    after = (server.data_dir / "private_general.log").read_text() if (server.data_dir / "private_general.log").exists() else ""
    assert after == before, "nothing was sent to the new key"
    await users(alice).get_by_role("button", name="Verify Bob").click()
    await alice.get_by_role("button", name="They match: trust this key").click()
    await say(alice, "/msg Bob now trusted")
    await alice.get_by_role("log").locator("li.private", has_text="now trusted").wait_for()


async def test_a_handle_without_a_key_is_refused_unless_sent_unencrypted(server: Server, new_page: Any,
                                                                           connect: Any) -> None:
    """Dave (a client without keys): 'Dave has no key yet: not sent', then sent in clear by choice."""
    alice = await chat_page(new_page, server, "Alice")
    dave = await joined(await connect(server, "Dave"), "Dave")
    await users(alice).get_by_role("button", name="Dave", exact=True).wait_for()
    await say(alice, "/msg Dave hello there")
    await alice.get_by_role("alert").filter(has_text="Dave has no key yet: not sent").wait_for()
    await alice.get_by_role("button", name="Send unencrypted").click()
    event = await dave.event("private")
    assert event["data"]["message"].endswith("Alice -> Dave: hello there") and "encrypted" not in event["data"]


async def test_a_passphrase_channel_reads_only_with_the_passphrase(server: Server, new_page: Any) -> None:
    """Two pages with one passphrase read each other; a third with another shows Encrypted message; no plain text logged."""
    pages = {handle: await chat_page(new_page, server, handle, "tech") for handle in ("Alice", "Bob", "Carol")}
    for handle, passphrase in (("Alice", "correct horse battery"), ("Bob", "correct horse battery"),
                               ("Carol", "another one")):
        await set_passphrase(pages[handle], passphrase)
    await say(pages["Alice"], "meet at dawn")
    await wait_for_line(pages["Bob"], "meet at dawn")
    assert await pages["Bob"].get_by_role("log").locator("li.line", has_text="meet at dawn").get_by_role(
        "img", name="Encrypted").count() == 1
    await say(pages["Bob"], "see you there")
    await wait_for_line(pages["Alice"], "see you there")
    carol = pages["Carol"].get_by_role("log").locator("li.line.encrypted")
    await carol.nth(1).wait_for()
    assert await carol.locator("span.text").all_inner_texts() == ["Encrypted message", "Encrypted message"]
    # The server cannot search ciphertext; the page searches the lines it decrypted.
    await pages["Alice"].get_by_label("Search", exact=True).fill("dawn")
    await pages["Alice"].get_by_role("button", name="Find").click()
    await pages["Alice"].get_by_role("list", name="Search results").get_by_text("meet at dawn").wait_for()
    # An edit of an encrypted line is encrypted too, and read as such.
    mine = pages["Alice"].get_by_role("log").locator("li.line").filter(
        has=pages["Alice"].locator("span.text", has_text="meet at dawn"))
    await mine.get_by_role("button", name="Edit your line").click()
    await pages["Alice"].get_by_label("New text of your line").fill("meet at dusk")
    await pages["Alice"].get_by_label("New text of your line").press("Enter")
    await pages["Bob"].get_by_role("log").locator("li.line.decrypted .text", has_text="meet at dusk (edited)").wait_for()
    log = (server.data_dir / "channel_tech.log").read_text(encoding="utf-8")
    assert "dawn" not in log and "dusk" not in log and "see you there" not in log
    assert re.search(r"Alice: e2e1\.", log) and re.search(r"Alice edited Alice's line of .*: e2e1\.", log)
    assert await axe_violations(pages["Alice"]) == []


async def test_a_new_device_is_said_and_every_device_reads(start_server: Any, new_page: Any) -> None:
    """With tokens, Bob's second device: 'Bob has a new device'; once verified, a message reaches both devices."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")

    async def device(sub: str) -> Any:
        page = await new_page(server.url + f"/?channel=general&token={token(sub, expires_in=600)}")
        await page.get_by_role("status").filter(has_text=f"Connected to general as {sub}").wait_for()
        return page

    alice, laptop = await device("Alice"), await device("Bob")
    await users(alice).get_by_role("button", name="Verify Bob").wait_for()
    phone = await device("Bob")
    await alice.get_by_role("log").get_by_text("Bob has a new device").wait_for()
    await say(alice, "/msg Bob to both of you")
    await alice.get_by_role("alert").filter(has_text="Bob has a new device").wait_for()
    await users(alice).get_by_role("button", name="Verify Bob").click()
    await alice.get_by_role("button", name="They match: trust this key").click()
    await say(alice, "/msg Bob to both of you")
    for page in (laptop, phone, alice):
        line = page.get_by_role("log").locator("li.private", has_text="to both of you")
        await line.wait_for()
        assert await line.get_by_role("img", name="Encrypted").count() == 1


async def test_an_encrypted_channel_refuses_plain_chat_on_the_page(start_server: Any, new_page: Any) -> None:
    """--encrypted-channels: plain text gets the server's sentence; with a passphrase the line goes."""
    server = await start_server("--encrypted-channels", "general", "--rate-limit", "0")
    page = await chat_page(new_page, server, "Alice")
    await say(page, "plain hello")
    await page.get_by_role("alert").filter(has_text="This channel accepts only encrypted messages").wait_for()
    await set_passphrase(page, "a long passphrase")
    await say(page, "secret hello")
    await wait_for_line(page, "secret hello")
    assert "secret hello" not in (server.data_dir / "channel_general.log").read_text(encoding="utf-8")


SLOW_DERIVE = """() => {
  // A phone's pace: the passphrase's key takes 1.5 s to derive.
  const derive = SubtleCrypto.prototype.deriveKey;
  SubtleCrypto.prototype.deriveKey = function (...args) {
    return new Promise((done) => setTimeout(done, 1500)).then(() => derive.apply(this, args));
  };
}"""


async def test_nothing_is_sent_in_plain_text_while_the_passphrase_key_is_derived(server: Server, new_page: Any,
                                                                                 connect: Any) -> None:
    """A line sent right after the passphrase waits (Send held, said) and goes encrypted; thread replies too; no files."""
    page = await chat_page(new_page, server, "Alice", "tech")
    await page.evaluate(SLOW_DERIVE)
    bob = await joined(await connect(server, "Bob", "tech"), "Bob")
    await bob.chat("a root line")
    await wait_for_line(page, "a root line")
    await page.get_by_role("button", name="Channel menu").click()
    await page.get_by_role("menuitemcheckbox", name="Encrypt with passphrase").click()
    await page.get_by_label("Passphrase", exact=True).fill("correct horse battery")
    await page.get_by_label("Passphrase", exact=True).press("Enter")
    await say(page, "locked line one")  # at once, as a person types on
    assert await page.locator("#send").is_disabled()
    assert await page.locator("#remaining").inner_text() == "Making the passphrase's key: sending waits"
    await page.wait_for_function("!document.getElementById('send').disabled")
    assert await page.get_by_label("Message").input_value() == "locked line one", "held, not sent and not lost"
    await page.get_by_label("Message").press("Enter")
    await wait_for_line(page, "locked line one")
    # A reply in a thread is the channel's text too.
    line = page.get_by_role("log").locator("li.line").filter(has=page.locator("span.text", has_text="a root line"))
    await line.hover()
    await line.get_by_role("button", name="Reply to Bob").click()
    await say(page, "first reply")
    await line.get_by_role("button", name="1 reply").click()
    await page.get_by_label("Reply in thread").fill("second reply")
    await page.get_by_label("Reply in thread").press("Enter")
    await page.get_by_role("dialog", name="Thread").get_by_text("second reply").wait_for()
    # A file would go in clear: the page says so and shares nothing.
    await page.keyboard.press("Escape")
    await page.get_by_label("Attach").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not for the server"}])
    await page.get_by_role("alert").filter(has_text="Files are not encrypted: turn the passphrase off to share one"
                                           ).wait_for()
    assert await page.locator("#upload-status").inner_text() == "", "no upload is said to be on its way"
    log = (server.data_dir / "channel_tech.log").read_text(encoding="utf-8")
    for plain in ("locked line one", "first reply", "second reply", "notes.txt"):
        assert plain not in log
    assert len(re.findall(r"\] Alice: e2e1\.", log)) == 3
