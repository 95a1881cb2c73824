"""Search (GET /api/channels/<name>/search, ``wsserver search``) and jumps (history around / at / after).

Real servers, real files (and a real Redis): results are compared line for
line with the log, and with a reference search written here from the rule
(case-insensitive on the unescaped message text, public lines only).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from wsserver.lines.logline import format_line, parse_line

from .support import Server, run_cli, seed_log

SECRET = "search-secret-for-tests-0123456789abcdef"

LINES = [
    "[2026-11-22 10:00:00] System: Alice has joined the chat",
    "[2026-11-22 10:00:01] Alice: The Deploy is at noon",
    format_line("2026-11-22 10:00:02", "Bob", "deploy\ndone"),
    format_line("2026-11-22 10:00:03", "Bob", "tabs\there"),
    "[2026-11-22 10:00:04] Carol: nothing here",
    "[2026-11-22 10:00:05] System: The deploy bot was restarted",
    "[2026-11-22 10:00:06] Bob: Ärger mit dem DEPLOY",
    format_line("2026-11-22 10:00:07", "Dave", "back\\slash n"),
]


def reference(lines: list[str], text: str, handle: str | None = None) -> list[str]:
    """The rule, written plainly: public lines whose unescaped text holds ``text``, newest first."""
    found = []
    for line in lines:
        parsed = parse_line(line)
        if parsed is None or parsed.to is not None:
            continue
        if handle is not None and parsed.handle.lower() != handle.lower():
            continue
        if text.lower() in parsed.text.lower():
            found.append(line)
    return found[::-1]


async def search(session: aiohttp.ClientSession, server: Server, channel: str = "general",
                 status: int = 200, headers: dict[str, str] | None = None, **query: str) -> dict[str, Any]:
    async with session.get(f"{server.url}/api/channels/{channel}/search", params=query, headers=headers) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def search_all(session: aiohttp.ClientSession, server: Server, **query: str) -> tuple[list[str], int]:
    """Follow ``next`` to the start of the log; return every line found and how many requests it took."""
    found: list[str] = []
    requests = 0
    before: str | None = None
    while True:
        extra = {"before": before} if before is not None else {}
        body = await search(session, server, **query, **extra)
        requests += 1
        found.extend(result["line"] for result in body["results"])
        before = body["next"]
        if before is None:
            return found, requests


@pytest.fixture
async def seeded(start_server: Any, tmp_path: Path) -> Server:
    data = seed_log(tmp_path / "data", "general", LINES)
    (data / "private_general.log").write_text("[2026-11-22 10:00:08] Bob -> Alice: the deploy secret\n")
    return await start_server("--rate-limit", "0", data_dir=data)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "deploy"}, [6, 5, 2, 1]),  # any case; a System line; a private line never
        ({"q": "DEPLOY", "from": "bob"}, [6, 2]),  # from: one handle, any case
        ({"q": "deploy\ndone"}, [2]),  # a newline in the text, stored as \n
        ({"q": "y\nd"}, [2]),
        ({"q": "s\th"}, [3]),  # a tab
        ({"q": "\\n"}, []),  # a backslash and an n: not the stored escape of a newline
        ({"q": "k\\s"}, [7]),  # a backslash in the text, stored doubled
        ({"q": "ärger"}, [6]),  # case-insensitive beyond ASCII
        ({"q": "has joined"}, [0]),
        ({"q": "10:00"}, []),  # the time stamp is not the text
        ({"q": "Carol"}, []),  # nor is the handle
    ],
)
async def test_search_finds_exactly_the_lines_holding_the_text(
    seeded: Server, session: aiohttp.ClientSession, query: dict[str, str], expected: list[int]
) -> None:
    body = await search(session, seeded, **query)
    assert body["channel"] == "general"
    assert [result["line"] for result in body["results"]] == [LINES[i] for i in expected]
    assert [result["line"] for result in body["results"]] == reference(LINES, query["q"], query.get("from"))
    assert body["next"] is None and body["partial"] is False


async def test_a_result_cursor_jumps_to_its_line(
    seeded: Server, session: aiohttp.ClientSession, connect: Any
) -> None:
    body = await search(session, seeded, q="tabs")
    client = await connect(seeded, "Zed")
    await client.until_line("Zed has joined")
    await client.send({"type": "history", "around": body["results"][0]["cursor"], "limit": 4})
    event = await client.event("history")
    lines = event["data"]["message"].split("\n")
    assert lines == LINES[1:5]  # two before, the line, one after
    assert lines[event["data"]["mark"]] == LINES[3]


def generated(count: int) -> list[str]:
    """``count`` lines one second apart; every 7th holds "needle" in some case, every 11th is Bob's."""
    start = 1_795_000_000
    lines = []
    for i in range(count):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + i))
        handle = "Bob" if i % 11 == 0 else f"User{i % 50}"
        word = ("NeEdLe", "needle", "NEEDLE")[i % 3] if i % 7 == 0 else "hay"
        rare = " and a ZeBra" if i % 997 == 0 else ""
        lines.append(f"[{stamp}] {handle}: line {i} with some {word} and filler text to make it longer{rare}")
    return lines


@pytest.fixture
def big_log(tmp_path: Path) -> tuple[Path, list[str]]:
    lines = generated(40_000)  # about 3.5 MB: a search crosses several blocks of 1 MiB
    return seed_log(tmp_path / "data", "general", lines), lines


async def test_paging_with_next_reaches_the_start_with_no_line_twice(
    start_server: Any, session: aiohttp.ClientSession, big_log: tuple[Path, list[str]]
) -> None:
    data, lines = big_log
    server = await start_server(data_dir=data)
    found, requests = await search_all(session, server, q="needle", limit="100")
    assert found == reference(lines, "needle")
    assert requests == len(found) // 100 + 1
    found, _ = await search_all(session, server, q="needle", limit="37", **{"from": "BOB"})
    assert found == reference(lines, "needle", "Bob")
    # A word with a rare letter (found by that letter, not by lower-casing every block), across blocks.
    found, _ = await search_all(session, server, q="a zebra", limit="7")
    assert found == reference(lines, "a zebra") and len(found) == 41


async def test_a_scan_cut_off_says_partial_and_goes_on_from_next(
    start_server: Any, session: aiohttp.ClientSession, big_log: tuple[Path, list[str]]
) -> None:
    data, lines = big_log
    server = await start_server("--search-seconds", "0", data_dir=data)  # one block per request
    first = await search(session, server, q="line 1 with")  # only the oldest lines hold it
    assert first["results"] == [] and first["partial"] is True and first["next"] is not None
    found, requests = await search_all(session, server, q="line 1 with")
    assert found == reference(lines, "line 1 with") == [lines[1]]
    assert requests >= 2  # the first request reads 64 KiB + 128 KiB + ... + 1 MiB (about 2 MiB), then 1 MiB each


async def test_bad_search_values_are_refused_with_the_reason(
    seeded: Server, session: aiohttp.ClientSession
) -> None:
    cases = [
        ({}, "q must be 1 to 200 characters of text to find"),
        ({"q": "  "}, "q must be 1 to 200 characters of text to find"),
        ({"q": "x" * 201}, "q must be 1 to 200 characters of text to find"),
        ({"q": "x", "limit": "0"}, "limit must be a whole number from 1 to 100"),
        ({"q": "x", "limit": "101"}, "limit must be a whole number from 1 to 100"),
        ({"q": "x", "limit": "ten"}, "limit must be a whole number from 1 to 100"),
        ({"q": "x", "from": "no"}, "from must be a handle: 3 to 16 letters, digits, underscores or dashes, not starting with a dash"),
        ({"q": "x", "before": "nonsense"}, "before is not a cursor of this channel's log (it may have been rotated)"),
    ]
    for query, sentence in cases:
        assert await search(session, seeded, status=400, **query) == {"error": sentence}
    assert await search(session, seeded, channel="nowhere", status=404, q="x") == {"error": "Unknown channel: nowhere"}
    headers = {"Origin": "http://evil.example"}
    assert await search(session, seeded, status=403, headers=headers, q="x") == {"error": "Origin not allowed"}


async def test_with_tokens_a_search_needs_one(start_server: Any, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    data = seed_log(tmp_path / "data", "general", LINES)
    server = await start_server("--jwt-secret", SECRET, data_dir=data)
    assert await search(session, server, status=401, q="deploy") == {"error": "Authentication failed"}
    token = jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    forged = jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, "not-the-secret-but-as-long-as-it-is", algorithm="HS256")
    assert await search(session, server, status=401, q="deploy", token=forged) == {"error": "Authentication failed"}
    by_query = await search(session, server, q="deploy", token=token)
    by_header = await search(session, server, q="deploy", headers={"Authorization": f"Bearer {token}"})
    assert [r["line"] for r in by_query["results"]] == [r["line"] for r in by_header["results"]] == reference(
        LINES, "deploy")


async def history(client: Any, **request: Any) -> dict[str, Any]:
    await client.send({"type": "history", **request})
    event = await client.event("history")
    return event["data"]


async def test_at_bisects_to_a_time_and_after_pages_to_the_end(
    start_server: Any, connect: Any, big_log: tuple[Path, list[str]]
) -> None:
    data, lines = big_log
    server = await start_server("--history", "0", data_dir=data)
    client = await connect(server, "Zed")
    await client.until_line("Zed has joined")
    lines = [*lines, client.lines[-1]]  # the join line is the last now
    middle = lines[20_000][1:20]
    for at, first in [("2020-01-01", 0), (middle, 20_000), (middle[:16], 20_000 - int(middle[17:19])),
                      (lines[39_999][1:20], 39_999)]:
        page = await history(client, at=at, limit=50)
        assert page["message"].split("\n") == lines[first : first + 50], at
        assert page["mark"] == 0
        assert page["latest"] is (first + 50 >= len(lines))
    after_all = await history(client, at="2099-01-01 00:00", limit=50)
    assert after_all["message"] == "" and after_all["latest"] is True and "mark" not in after_all
    # From the middle, `after` pages forward to the end and `before` back, with no line twice.
    page = await history(client, at=middle, limit=200)
    seen = page["message"].split("\n")
    while not page["latest"]:
        page = await history(client, after=page["end"], limit=200)
        seen.extend(page["message"].split("\n"))
    assert seen == lines[20_000:]
    back = await history(client, at=middle, limit=10)
    earlier = await history(client, before=back["cursor"], limit=10)
    assert earlier["message"].split("\n") == lines[19_990:20_000]


async def test_around_marks_the_line_at_the_start_middle_and_end(
    start_server: Any, connect: Any, session: aiohttp.ClientSession, big_log: tuple[Path, list[str]]
) -> None:
    data, lines = big_log
    server = await start_server("--history", "0", data_dir=data)
    client = await connect(server, "Zed")
    await client.until_line("Zed has joined")
    body = await search(session, server, q="line 0 with")
    first = await history(client, around=body["results"][0]["cursor"], limit=10)
    assert first["message"].split("\n") == lines[:10] and first["mark"] == 0  # the window is filled from later
    body = await search(session, server, q="line 20000 with")
    middle = await history(client, around=body["results"][0]["cursor"], limit=10)
    assert middle["message"].split("\n") == lines[19_995:20_005] and middle["mark"] == 5
    assert middle["latest"] is False
    body = await search(session, server, q="line 39999 with")
    last = await history(client, around=body["results"][0]["cursor"], limit=10)
    assert last["message"].split("\n") == [*lines[39994:], client.lines[-1]] and last["mark"] == 5
    assert last["latest"] is True


async def test_bad_jumps_are_refused_with_the_reason(seeded: Server, connect: Any) -> None:
    client = await connect(seeded, "Zed")
    await client.until_line("Zed has joined")
    cases = [
        ({"around": "nonsense"}, "No line at that cursor"),
        ({"after": "nonsense"}, "History is not available after that cursor"),
        ({"around": 5}, "Invalid history request: around must be a cursor from a frame (a string), or left out"),
        ({"at": "yesterday"},
         "Invalid history request: at must be a time as YYYY-MM-DD HH:MM (or with seconds, or a date alone)"),
        ({"at": "2026-02-30"},
         "Invalid history request: at must be a time as YYYY-MM-DD HH:MM (or with seconds, or a date alone)"),
        ({"at": "2026-11-22", "around": "x"}, "Invalid history request: give one of before, around, at and after, "
                                              "not around and at"),
    ]
    for request, sentence in cases:
        await client.send({"type": "history", **request})
        assert await client.frame() == {"success": False, "message": sentence}


async def test_after_a_rotation_jumps_and_searches_cover_the_new_file(
    seeded: Server, connect: Any, session: aiohttp.ClientSession
) -> None:
    old = await search(session, seeded, q="tabs")
    path = seeded.log_path("general")
    path.rename(path.with_name(path.name + ".1"))
    assert seeded.process is not None
    seeded.process.send_signal(signal.SIGHUP)
    client = await connect(seeded, "Zed")
    join = await client.until_line("Zed has joined")
    await client.chat("deploy after the rotation")
    said = await client.until_line("Zed: deploy after the rotation")
    await client.send({"type": "history", "around": old["results"][0]["cursor"], "limit": 4})
    assert await client.frame() == {"success": False, "message": "No line at that cursor"}
    page = await history(client, at="2000-01-01", limit=50)
    assert page["message"].split("\n") == [join, said]
    body = await search(session, seeded, q="deploy")
    assert [r["line"] for r in body["results"]] == [said]
    status, out, _ = await run_cli("search", "general", "tabs", "--data-dir", str(seeded.data_dir))
    assert (status, out) == (0, "")


async def test_search_command_prints_lines_as_the_log_holds_them(seeded: Server) -> None:
    data = str(seeded.data_dir)
    status, out, err = await run_cli("search", "general", "DEPLOY", "--data-dir", data)
    assert (status, out, err) == (0, "".join(line + "\n" for line in reference(LINES, "deploy")), "")
    status, out, _ = await run_cli("search", "general", "deploy", "--from", "bob", "--limit", "1", "--data-dir", data)
    assert (status, out) == (0, LINES[6] + "\n")
    assert await run_cli("search", "nowhere", "x", "--data-dir", data) == (
        2, "", f"wsserver: no log for channel 'nowhere' in {data}\n")
    assert await run_cli("search", "general", "x", "--from", "-", "--data-dir", data) == (
        2, "", "wsserver: invalid --from value '-': must be a handle (3 to 16 letters, digits or _)\n")


async def test_search_and_jumps_on_redis(nodes: Any, connect: Any, session: aiohttp.ClientSession,
                                         redis_server: Any) -> None:
    node = await nodes("a")
    client = await connect(node, "Alice")
    await client.until_line("Alice has joined")
    texts = [f"message {i} about {'the DEPLOY' if i % 4 == 0 else 'lunch'}" for i in range(30)]
    for text in texts:
        await client.chat(text)
    await client.until_line("Alice: message 29 about")
    lines = [line for line in client.lines if line]
    found, _ = await search_all(session, node, q="deploy", limit="3")
    assert found == reference(lines, "deploy") and len(found) == 8
    body = await search(session, node, q="message 13 about")
    page = await history(client, around=body["results"][0]["cursor"], limit=6)
    assert page["message"].split("\n") == lines[11:17] and page["message"].split("\n")[page["mark"]].endswith(
        "message 13 about lunch")
    page = await history(client, at="2000-01-01", limit=5)
    assert page["message"].split("\n") == lines[:5] and page["mark"] == 0
    seen = page["message"].split("\n")
    while not page["latest"]:
        page = await history(client, after=page["end"], limit=7)
        seen.extend(page["message"].split("\n"))
    assert seen == lines
    status, out, _ = await run_cli("search", "general", "Deploy", "--limit", "2", "--store", redis_server.url)
    assert (status, out) == (0, "".join(line + "\n" for line in found[:2]))
