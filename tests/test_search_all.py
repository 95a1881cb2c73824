"""Search of every channel (GET /api/search, ``wsserver search TEXT``): merge order, paging, access rules.

Real servers, real files (and a real Redis): the answers are compared with a
reference merge written here from the documented rule (newest time stamp
first; one second's lines of several channels by channel name; one channel's
lines in its log's order), page size by page size.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt

from wsserver.lines.logline import parse_line

from .support import SECRET, Server, joined, run_cli, seed_log
from .support.accounts import sign_up, socket

CHANNELS = {
    "general": [
        "[2026-11-22 10:00:00] Alice: deploy one",
        "[2026-11-22 10:00:02] Bob: lunch",
        "[2026-11-22 10:00:03] Bob: deploy two",
        "[2026-11-22 10:00:03] Carol: deploy three, same second",
        "[2026-11-22 10:00:09] Alice: the DEPLOY is done",
    ],
    "random": [
        "[2026-11-22 10:00:01] Dave: deploy in random",
        "[2026-11-22 10:00:03] Erin: deploy at the same second as general",
        "[2026-11-22 10:00:05] System: The deploy bot was restarted",
        "[2026-11-22 10:00:10] Dave: nothing",
    ],
    "tech": [
        "[2026-11-22 09:59:59] Frank: the first deploy of all",
        "[2026-11-22 10:00:03] Frank: deploy, third at 10:00:03",
        "[2026-11-22 10:00:07] Frank: Deploy again",
    ],
}


def reference(text: str, names: list[str] | None = None, handle: str | None = None) -> list[tuple[str, str]]:
    """(channel, line) of every match, merged by the rule (each channel's stamps only grow here)."""
    found = []
    for name, lines in CHANNELS.items():
        if names is not None and name not in names:
            continue
        for index, line in enumerate(lines):
            parsed = parse_line(line)
            assert parsed is not None
            if text.lower() in parsed.text.lower() and (handle is None or parsed.handle.lower() == handle.lower()):
                found.append((line[1:20], name, index, line))
    # newest stamp first; same second: channel name; one channel: later lines first
    found.sort(key=lambda hit: (-time.mktime(time.strptime(hit[0], "%Y-%m-%d %H:%M:%S")), hit[1], -hit[2]))
    return [(name, line) for _, name, _, line in found]


def seed(data: Path) -> Path:
    for name, lines in CHANNELS.items():
        seed_log(data, name, lines)
    return data


async def get(session: aiohttp.ClientSession, server: Server, status: int = 200,
              headers: dict[str, str] | None = None, **query: str) -> dict[str, Any]:
    async with session.get(f"{server.url}/api/search", params=query, headers=headers) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def every_page(session: aiohttp.ClientSession, server: Server, headers: dict[str, str] | None = None,
                     **query: str) -> tuple[list[tuple[str, str]], int]:
    """Follow ``next`` to the end; return (channel, line) of every result and how many requests it took."""
    found: list[tuple[str, str]] = []
    requests, before = 0, None
    while True:
        body = await get(session, server, headers=headers, **query, **({"before": before} if before else {}))
        requests += 1
        found.extend((result["channel"], result["line"]) for result in body["results"])
        before = body["next"]
        if before is None:
            return found, requests


async def test_every_channel_merged_newest_first_and_paged_without_gap_or_duplicate(
    start_server: Any, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server = await start_server("--channels", "general,random,tech", data_dir=seed(tmp_path / "data"))
    expected = reference("deploy")
    assert len(expected) == 10 and expected[:4] == [
        ("general", CHANNELS["general"][4]), ("tech", CHANNELS["tech"][2]), ("random", CHANNELS["random"][2]),
        ("general", CHANNELS["general"][3])]
    first = await get(session, server, q="DEPLOY", limit="3")
    assert [(r["channel"], r["line"]) for r in first["results"]] == expected[:3]
    assert first["partial"] is False and first["next"] and first["channels"] == ["general", "random", "tech"]
    assert first["encrypted"] == [] and all(r["cursor"] for r in first["results"])
    for limit in ("1", "2", "4", "50"):
        found, requests = await every_page(session, server, q="deploy", limit=limit)
        assert found == expected, limit
        assert requests <= -(-len(expected) // int(limit)) + 1, limit  # at most one empty page at the end
    only = await every_page(session, server, q="deploy", channels="tech,random", limit="2")
    assert only[0] == reference("deploy", ["tech", "random"])
    by_frank = await every_page(session, server, q="deploy", **{"from": "FRANK"})
    assert by_frank[0] == reference("deploy", handle="Frank")
    assert await get(session, server, q="zanzibar") == {
        "results": [], "next": None, "partial": False, "channels": ["general", "random", "tech"], "encrypted": []}


async def test_a_result_cursor_is_its_channels_and_jumps_there(
    start_server: Any, session: aiohttp.ClientSession, connect: Any, tmp_path: Path
) -> None:
    server = await start_server("--channels", "general,random,tech", data_dir=seed(tmp_path / "data"))
    result = (await get(session, server, q="same second as general"))["results"]
    assert [(r["channel"], r["line"]) for r in result] == [("random", CHANNELS["random"][1])]
    client = await connect(server, "Zed", channel="random")
    await client.until_line("Zed has joined")
    await client.send({"type": "history", "around": result[0]["cursor"], "limit": 3})
    page = (await client.event("history"))["data"]
    assert page["message"].split("\n")[page["mark"]] == CHANNELS["random"][1]


async def test_scans_cut_off_say_partial_and_following_next_still_finds_each_once(
    start_server: Any, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data = seed(tmp_path / "data")
    filler = [f"[2026-11-22 09:{minute:02d}:00] Gina: filler line {i} " + "x" * 80
              for i, minute in enumerate(range(30, 59)) for _ in range(1300)]  # 3.5 MB: three rounds
    big = ["[2026-11-22 09:00:00] Gina: an old deploy, far back"] + filler + CHANNELS["tech"]
    (data / "channel_tech.log").write_text("".join(line + "\n" for line in big))
    server = await start_server("--channels", "general,random,tech", "--search-seconds", "0", data_dir=data)
    first = await get(session, server, q="deploy", limit="50")
    found, requests = await every_page(session, server, q="deploy", limit="50")
    expected = [*reference("deploy"), ("tech", big[0])]
    assert found == expected and requests >= 3
    assert first["partial"] is True and len(first["results"]) < len(expected)


async def test_bad_values_are_refused_with_the_reason(start_server: Any, session: aiohttp.ClientSession,
                                                      tmp_path: Path) -> None:
    server = await start_server("--channels", "general,random,tech", data_dir=seed(tmp_path / "data"))
    cases = [
        ({"q": " "}, 400, "q must be 1 to 200 characters of text to find"),
        ({"q": "x", "limit": "101"}, 400, "limit must be a whole number from 1 to 100"),
        ({"q": "x", "from": "-"}, 400,
         "from must be a handle: 3 to 16 letters, digits, underscores or dashes, not starting with a dash"),
        ({"q": "x", "before": "nonsense"}, 400,
         "before must be the next of an earlier answer of a search of every channel"),
        ({"q": "x", "channels": "general,,tech"}, 400,
         "channels must be a comma-separated list of channel names: '' is not a channel name"),
        ({"q": "x", "channels": "general,Bad!"}, 400,
         "channels must be a comma-separated list of channel names: 'Bad!' is not a channel name"),
        ({"q": "x", "channels": "general,nowhere"}, 404, "Unknown channel: nowhere"),
    ]
    for query, status, sentence in cases:
        assert await get(session, server, status=status, **query) == {"error": sentence}
    assert await get(session, server, status=403, headers={"Origin": "http://evil.example"}, q="x") == {
        "error": "Origin not allowed"}


async def test_tokens_a_bots_channels_and_encrypted_channels(
    start_server: Any, session: aiohttp.ClientSession, person: Any, tmp_path: Path
) -> None:
    data = seed(tmp_path / "data")
    server = await start_server("--channels", "general,random,tech", "--jwt-secret", SECRET, data_dir=data)
    assert await get(session, server, status=401, q="deploy") == {"error": "Authentication failed"}
    site = jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert (await every_page(session, server, token=site, q="deploy"))[0] == reference("deploy")
    await server.stop()

    server = await start_server("--channels", "general,random,tech", "--accounts", "--sign-up", "open",
                                "--encrypted-channels", "random", data_dir=data)
    made = await run_cli("accounts", "add-bot", "deploybot", "--channels", "general,random",
                         "--data-dir", str(data))
    bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
    body = await get(session, server, headers=bearer, q="deploy")
    assert [(r["channel"], r["line"]) for r in body["results"]] == reference("deploy", ["general"])
    assert body["channels"] == ["general"] and body["encrypted"] == ["random"]
    assert body["note"] == "This channel takes only end-to-end encrypted lines: their text cannot be searched on the server"
    assert await get(session, server, status=403, headers=bearer, q="deploy", channels="general,tech") == {
        "error": "Not allowed in channel tech"}
    assert await get(session, server, status=401, q="deploy") == {"error": "Authentication failed"}
    alice = person()
    assert (await sign_up(alice, server, "Alice"))[0] == 201
    await joined(await socket(alice, server), "Alice")  # the cookie works for the API as for the socket
    async with alice.get(f"{server.url}/api/search", params={"q": "deploy"}) as response:
        assert response.status == 200
        everything = await response.json()
    assert [(r["channel"], r["line"]) for r in everything["results"]] == reference("deploy", ["general", "tech"])


async def test_edits_and_deletions_read_as_they_do_now(start_server: Any, session: aiohttp.ClientSession,
                                                       connect: Any, tmp_path: Path) -> None:
    server = await start_server("--channels", "general,random,tech", "--rate-limit", "0",
                                data_dir=seed(tmp_path / "data"))
    alice = await connect(server, "Zed", channel="tech")
    await alice.until_line("Zed has joined")
    await alice.chat("a deploy typo")
    frame = await alice.until_line_frame("Zed: a deploy typo")
    typo = frame["cursors"][frame["message"].split("\n").index(next(
        line for line in frame["message"].split("\n") if line.endswith("a deploy typo")))]
    await alice.chat("a deploy to take back")
    frame = await alice.until_line_frame("Zed: a deploy to take back")
    gone = frame["cursors"][-1]
    await alice.send({"type": "edit", "cursor": typo, "message": "a deploy, spelt right"})
    await alice.event("edited")
    await alice.send({"type": "delete", "cursor": gone})
    await alice.event("deleted")
    first = await get(session, server, q="deploy", limit="3")
    # The page is cut from the lines found (the edit, the deleted line, the edited line), then those are left out.
    assert [(r["channel"], r["line"][22:], r.get("edited"), r["cursor"]) for r in first["results"]] == [
        ("tech", "Zed: a deploy, spelt right", True, typo)]
    found, _ = await every_page(session, server, q="deploy", limit="3")
    assert found[1:] == reference("deploy") and found[0][0] == "tech"


async def test_the_search_command_without_a_channel(start_server: Any, tmp_path: Path) -> None:
    data = seed(tmp_path / "data")
    status, out, err = await run_cli("search", "DEPLOY", "--data-dir", str(data))
    assert (status, err) == (0, "") and out == "".join(f"{name}: {line}\n" for name, line in reference("deploy"))
    status, out, _ = await run_cli("search", "deploy", "--limit", "2", "--data-dir", str(data))
    assert (status, out) == (0, "".join(f"{name}: {line}\n" for name, line in reference("deploy")[:2]))


async def test_every_channel_on_redis(nodes: Any, connect: Any, session: aiohttp.ClientSession,
                                      redis_server: Any) -> None:
    node = await nodes("a", "--channels", "general,random")
    said = []
    for channel in ("general", "random"):
        client = await connect(node, "Alice", channel=channel)
        await client.until_line("Alice has joined")
        for i in range(6):
            await client.chat(f"{channel} {i} {'deploy' if i % 2 else 'lunch'}")
        await client.until_line(f"Alice: {channel} 5 ")
        said += [(channel, line) for line in client.lines if line.endswith("deploy")]
    found, requests = await every_page(session, node, q="deploy", limit="2")
    assert sorted(found) == sorted(said) and len(found) == 6 and requests <= 4
    stamps = [line[1:20] for _, line in found]
    assert stamps == sorted(stamps, reverse=True)
    status, out, _ = await run_cli("search", "deploy", "--store", redis_server.url)
    assert (status, out) == (0, "".join(f"{name}: {line}\n" for name, line in found))
