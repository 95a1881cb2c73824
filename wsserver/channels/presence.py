"""Who is in a channel, as clients are told: the whole list once, then what changed.

Presence comes from the store's registry: when any process claims or releases
a handle the store says so, the hub re-reads the handles, and each channel
takes the new list (:meth:`PresenceList.update`).  Each new list is a
*version*, and the difference from the one before is a *delta* (``joined``,
``left``), encoded once and sent to every connection that has the version
before.  A connection that is behind gets, once its queue drains, the deltas
it missed merged into one (:meth:`PresenceList.since`), or the whole list if
it is further behind than the deltas kept.  So a client that applies what it
gets in order always holds the current list, and a change costs each
receiver a few bytes, not the whole list.

Every presence frame also carries the *version* of the list it leaves the
client with: ``COUNT.DIGEST``, the XOR of a 64-bit BLAKE2b hash of each handle
(:func:`set_version`).  It names the member set alone (not the order of
changes, not this process's counter), so every process and node says the same
version for the same set, and it is kept up to date by XOR-ing the handles that
come and go.  A client that resumes (``since=``) and sends the version it last
applied (``presence=``) is sent no list when its set is still the channel's.

A joiner gets the whole list with itself in it:
:meth:`PresenceList.with_joiner` splices it into the last list (cached as sort
keys, and as the list's bytes with where each handle starts) instead of sorting
and encoding thousands per join.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
from array import array
from collections import deque

from .. import protocol
from ..lines.logline import JOINED, PRESENCE_LINE_RE
from ..store.finding import Lines
from .fanout import Wire

JOINED_BYTES = JOINED.encode()  # a join line's verb, as the log has it

# Timeouts
PRESENCE_SPACING = 0.25  # least seconds between two presence broadcasts: a join storm sends a few, not one per join
PRESENCE_SCALE = 1000  # users in a channel from which the spacing grows with its size ...
PRESENCE_SPACING_MAX = 2.0  # ... up to this: a delta to N users is N frames
DELTAS_KEPT = 256  # versions a connection may be behind and still get a delta; further behind, the whole list


def handle_hash(handle: str) -> int:
    """Return a handle's 64-bit hash (BLAKE2b of its UTF-8): the same on every process."""
    return int.from_bytes(hashlib.blake2b(handle.encode("utf-8"), digest_size=8).digest(), "big")


def set_version(count: int, digest: int) -> str:
    """Return the version of a member set of ``count`` handles whose hashes XOR to ``digest``."""
    return f"{count}.{digest:016x}"


def handle_key(handle: str) -> tuple[str, str]:
    """Return the key handles are sorted by: as people read them, without regard to case."""
    folded = handle.casefold()
    return (handle if folded == handle else folded, handle)  # one string, not two, for most handles


def sort_handles(handles: list[str]) -> list[str]:
    """Sort handles as people read them: without regard to case."""
    return sorted(handles, key=handle_key)


def spacing(largest: int) -> float:
    """Return the least seconds between two presence broadcasts when the largest channel has ``largest`` users.

    0.25 s up to 1,000 users, then growing with the size (a broadcast is one
    small delta frame to each user), up to 2 s: 1.25 s at 5,000.  Everyone
    still ends with the current list; fewer, larger deltas carry the changes.
    """
    return min(PRESENCE_SPACING * max(1.0, largest / PRESENCE_SCALE), PRESENCE_SPACING_MAX)


class PresenceList:
    """A channel's users list, its versions, and the deltas between them, kept ready to send."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.users: list[str] | None = None  # sorted; None before the first read
        self.members: frozenset[str] = frozenset()
        self.version = 0  # this process's counter of lists (what deltas are kept by)
        self.digest = 0  # the XOR of the members' hashes (their set's version: set_version)
        self._keys: list[tuple[str, str]] = []
        self._json: list[str] = []
        self._full: Wire | None = None  # the whole list of this version, encoded when first asked for
        self._list_bytes: tuple[bytes, array[int]] | None = None  # its handles encoded, and where each starts
        self._delta: Wire | None = None  # the delta from the version before to this one
        self._deltas: deque[tuple[int, list[str], list[str]]] = deque(maxlen=DELTAS_KEPT)
        # Memos for the current version, emptied by each update: what changed since an earlier version,
        # and its frame (a join storm leaves thousands of connections a few versions behind).
        self._merged: dict[int, tuple[list[str], list[str], list[str], list[str]]] = {}  # sorted and encoded
        self._merged_wires: dict[int, Wire] = {}
        # Who joined and left by the log's join and leave lines since the list was last read (quiet_lines)
        self._arrived: set[str] = set()
        self._departed: set[str] = set()
        # ... and, for joiners' first deltas, its joined handles as bytes (where each starts) between the frame's ends
        self._spliced: dict[int, tuple[bytes, bytes, array[int], bytes]] = {}

    def update(self, users: list[str]) -> bool:
        """Take the users now (in any order); return whether they changed (a new version, with its delta).

        Compared as a set, and the sorted list is spliced rather than rebuilt: a
        re-read of thousands of users that changes a few costs a few inserts.
        """
        new = frozenset(users)
        self._arrived.clear()  # the joins and leaves read from the log so far are in what was read
        self._departed.clear()
        if self.users is not None and new == self.members:
            return False
        joined, left = sort_handles(list(new - self.members)), sort_handles(list(self.members - new))
        if self.users is None or len(joined) + len(left) > len(new) // 4:
            self.users = sort_handles(list(new))
            self._keys = [handle_key(handle) for handle in self.users]
            self._json = _encoded(self.users)
        else:
            users_now = list(self.users)
            for handle in left:
                at = bisect.bisect_left(self._keys, handle_key(handle))
                del users_now[at], self._keys[at], self._json[at]
            for handle in joined:
                key = handle_key(handle)
                at = bisect.bisect_left(self._keys, key)
                users_now.insert(at, handle)
                self._keys.insert(at, key)
                self._json.insert(at, json.dumps(handle, ensure_ascii=False))
            self.users = users_now
        self.members = new
        for handle in (*joined, *left):
            self.digest ^= handle_hash(handle)
        self.version += 1
        self._deltas.append((self.version, joined, left))
        self._full = None
        self._list_bytes = None
        self._delta = Wire(protocol.presence_delta_frame(self.channel, _encoded(joined), _encoded(left), self.tag))
        self._merged.clear()
        self._merged_wires.clear()
        self._spliced.clear()
        return True

    def quiet_lines(self, lines: Lines, limit: int) -> dict[int, tuple[str, bool]]:
        """Return the join and leave lines of ``lines`` not to send live (index: handle, joined), by --announce-limit.

        A line is quiet when the channel has more users than the limit, counting
        the one who joins (or, for a leave, the one who leaves, before it goes).
        The users are the list last read and the joins and leaves read from the
        log since: counted from the list alone, the joins of a storm were
        announced to everyone until the next read (up to 2 s of them: in W5,
        60,000 frames of join lines).
        """
        if b"] System: " not in lines.data:
            return {}
        members, arrived, departed = self.members, self._arrived, self._departed
        quiet = {}
        for index, (raw, _) in enumerate(lines.split()):
            match = PRESENCE_LINE_RE.match(raw)
            if match is None:
                continue
            handle, joined = match.group(1).decode(), match.group(2) == JOINED_BYTES
            here = handle in arrived or (handle in members and handle not in departed)
            if limit and len(members) + len(arrived) - len(departed) + (not here) > limit:
                quiet[index] = (handle, joined)
            if joined:
                if handle in departed:
                    departed.discard(handle)
                elif handle not in members:
                    arrived.add(handle)
            elif handle in arrived:
                arrived.discard(handle)
            elif handle in members:
                departed.add(handle)
        return quiet

    @property
    def tag(self) -> str:
        """The version of the current member set (the same on every process for the same set)."""
        return set_version(len(self.members), self.digest)

    def tag_with(self, handle: str) -> str:
        """The version of the member set with ``handle`` in it (what a joiner's first list is)."""
        if handle in self.members:
            return self.tag
        return set_version(len(self.members) + 1, self.digest ^ handle_hash(handle))

    def full(self) -> Wire:
        """Return the whole list of the current version as a presence frame."""
        if self._full is None:
            body, _ = self._encoded_list()
            self._full = Wire.of_parts(self._ends(self.tag, body))
        return self._full

    def with_joiner(self, handle: str) -> tuple[Wire, str | None]:
        """Return the whole list with ``handle`` in it (a splice), and ``handle`` if the current version lacks it.

        Spliced as bytes into the list's encoding, kept for the version: one copy into the frame, where
        splicing the handles and joining them again cost a join storm 10,000 strings a joiner, and four
        copies of a 100 KB frame (py-spy and tracemalloc: W5).
        """
        key = handle_key(handle)
        at = bisect.bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            return self.full(), None
        body, starts = self._encoded_list()
        new = json.dumps(handle, ensure_ascii=False).encode("utf-8")
        view = memoryview(body)
        middle: list[bytes | memoryview]
        if not starts:
            middle = [new]
        elif at < len(starts):
            middle = [view[: starts[at]], new, b", ", view[starts[at]:]]
        else:
            middle = [view, b", ", new]
        return Wire.of_parts(self._ends(self.tag_with(handle), *middle)), handle

    def _ends(self, tag: str, *body: bytes | memoryview) -> list[bytes | memoryview]:
        head, tail = protocol.presence_frame_ends(self.channel, tag)
        return [head.encode("utf-8"), *body, tail.encode("utf-8")]

    def _encoded_list(self) -> tuple[bytes, array[int]]:
        """Return the current version's handles as the frame has them (UTF-8, ", " between), and where each starts."""
        if self._list_bytes is None:
            self._list_bytes = _joined_bytes(self._json)
        return self._list_bytes

    def since(self, version: int, extra: str | None = None) -> Wire | None:
        """Return what a connection that has ``version`` (plus ``extra``) needs now; None if nothing.

        One delta frame, shared when the connection is one version behind; the
        deltas it missed merged into one; or the whole list when it is further
        behind than :data:`DELTAS_KEPT` versions.
        """
        if version == self.version - 1 and extra is None and self._delta is not None:
            return self._delta
        if version == self.version and extra is None:
            return None
        if version < self.version and (not self._deltas or self._deltas[0][0] > version + 1):
            return self.full()
        merged = self._merged.get(version)
        if merged is None:
            merged = self._merged[version] = self._merge(version)
        joined, left, joined_json, left_json = merged
        if extra is None:
            return self._merged_wire(version)
        # The connection's list had ``extra`` in it (spliced in for a joiner) though that version did not:
        # it is no news that it joined, and news if it left.
        if extra in self.members:  # still here: the shared delta with its own handle cut out
            return self._without(version, extra)
        if extra not in left:  # gone already (joined is only of members: it is not there)
            at = bisect.bisect_left(left, handle_key(extra), key=handle_key)
            left_json = [*left_json[:at], json.dumps(extra, ensure_ascii=False), *left_json[at:]]
            left = [*left[:at], extra, *left[at:]]
        if not joined and not left:
            return None
        return Wire(protocol.presence_delta_frame(self.channel, joined_json, left_json, self.tag))

    def _merged_wire(self, version: int) -> Wire | None:
        """Return the delta frame from ``version`` to now (None: no change), made once for the version."""
        wire = self._merged_wires.get(version)
        joined, left, joined_json, left_json = self._merged[version]
        if wire is None and (joined or left):
            wire = self._merged_wires[version] = Wire(protocol.presence_delta_frame(self.channel, joined_json,
                                                                                     left_json, self.tag))
        return wire

    def _without(self, version: int, extra: str) -> Wire | None:
        """Return the merged delta since ``version`` without ``extra`` among its joined (where it is): one copy.

        Every joiner of a storm gets a delta of its own first (its list had itself in it already); built
        from the handles each time, they were a tenth of a worker's CPU in W5 (perf, 20,000 joins).
        """
        joined, left, joined_json, left_json = self._merged[version]
        at = bisect.bisect_left(joined, handle_key(extra), key=handle_key)
        if at == len(joined) or joined[at] != extra:  # not news to it: the others' changes only
            return self._merged_wire(version)
        if len(joined) == 1 and not left:
            return None
        spliced = self._spliced.get(version)
        if spliced is None:
            head, tail = protocol.presence_delta_ends(self.channel, left_json, self.tag)
            spliced = self._spliced[version] = (head.encode("utf-8"), *_joined_bytes(joined_json), tail.encode("utf-8"))
        head_bytes, body, starts, tail_bytes = spliced
        view = memoryview(body)
        if len(joined) == 1:
            middle = []
        elif at == 0:
            middle = [view[starts[1]:]]
        elif at == len(joined) - 1:
            middle = [view[: starts[at] - 2]]  # and the ", " before it
        else:
            middle = [view[: starts[at]], view[starts[at + 1]:]]
        return Wire.of_parts([head_bytes, *middle, tail_bytes])

    def _merge(self, version: int) -> tuple[list[str], list[str], list[str], list[str]]:
        """Return (joined, left), each sorted, from ``version`` to the current one, merged from the deltas kept."""
        joined: set[str] = set()
        left: set[str] = set()
        for number, came, went in self._deltas:
            if number <= version:
                continue
            for handle in came:
                if handle in left:
                    left.discard(handle)
                else:
                    joined.add(handle)
            for handle in went:
                if handle in joined:
                    joined.discard(handle)
                else:
                    left.add(handle)
        came, went = sort_handles(list(joined)), sort_handles(list(left))
        return came, went, _encoded(came), _encoded(went)


def _joined_bytes(handles_json: list[str]) -> tuple[bytes, array[int]]:
    """Return JSON-encoded handles as a frame has them (UTF-8, ", " between), and where each starts."""
    encoded = [text.encode("utf-8") for text in handles_json]
    starts = array("Q", itertools.accumulate((len(each) + 2 for each in encoded[:-1]), initial=0))
    return b", ".join(encoded), starts if encoded else array("Q")


def _encoded(handles: list[str]) -> list[str]:
    """Return each handle as a JSON string."""
    return [json.dumps(handle, ensure_ascii=False) for handle in handles]
