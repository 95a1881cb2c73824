"""Follow every stream of a node with two connections: a doorbell subscription and one reader.

A node used to keep one connection blocked in ``XREAD`` per feed (two per
channel), so its connections grew with its channels until Redis refused more
clients; and one ``XREAD BLOCK`` over thousands of streams costs Redis work
in proportion to all of them at every round.  Here the append script also
``PUBLISH``es the new entry's ID on the stream's own key (a *doorbell*; only
when no ring is pending, see :meth:`~wsserver.store.redis.keys.Keys.rung`), the
node's :class:`StreamReader` subscribes to the keys of the streams it
follows (one connection, however many), and its reader (one more connection)
reads with ``XREAD`` only the streams that rang, each from the last entry it
delivered: the cost of a round follows the busy channels, not all of them.
The stream stays the source of truth: what a feed delivers is what ``XREAD``
returned, in order, once; the doorbell only says where to look.  Right after
the subscription is made (again), the reader reads every stream it follows
(in groups of :data:`KEYS_PER_READ`), so a ring lost while the subscription
was down delays a line only until then; and every second it reads the next
:data:`SWEEP_KEYS` streams in turn, whether they rang or not.  The epochs are read right after
the entries, in the same round trip (one ``MGET``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from ...background import Backoff, cancel_and_wait, in_turn
from .keys import RedisFault
from .link import BUSY_GATHER, READ_COUNT, Link, parse_id

log = logging.getLogger(__name__)

KEYS_PER_READ = 4096  # streams one XREAD reads at most
SWEEP_SECONDS = 1.0  # how often the reader also reads some streams whose doorbell did not ring
SWEEP_KEYS = 1024  # streams read per sweep, in turn: each stream at least every N / 1024 seconds


class Follower(Protocol):
    """What the reader reads for: a stream key, where it got to, its epoch key, and what takes its entries."""

    key: str
    last_id: str
    epoch_key: str

    def gather(self) -> float:
        """Return how long to let lines pile up before the next read (0: none)."""

    def take(self, entries: list[Any], epoch: bytes | None) -> None:
        """Deliver ``entries`` (read after :attr:`last_id`), with the stream's epoch as read after them."""


class StreamReader:
    """The streams a node follows: rung by PUB/SUB, read by one reader."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.followers: dict[str, Follower] = {}
        self.lag = 0.0  # seconds between the newest entry delivered and its delivery, at the last delivery
        self._rung: set[str] = set()
        self._ringing = asyncio.Event()
        # Streams added and removed since the listener last brought its subscriptions up to date
        # (sets, not a rescan of every follower: a join storm adds thousands).
        self._to_subscribe: set[str] = set()
        self._to_unsubscribe: set[str] = set()
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sweep_all = False  # the subscription was (re)made: rings may have been lost meanwhile
        self._swept = 0  # where the next sweep starts in the followers
        # Loops also end on this flag: redis-py's timeouts can swallow a cancellation that lands
        # just as they fire, and a loop that goes on would hold shutdown forever.
        self._stopping = False

    def _start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._listen(), name="stream doorbells"),
                           loop.create_task(self._read(), name="read streams")]

    def add(self, follower: Follower) -> None:
        """Follow ``follower``'s stream from its ``last_id`` on (read at once: a line may have come meanwhile)."""
        self._start()
        self.followers[follower.key] = follower
        self._to_subscribe.add(follower.key)
        self._to_unsubscribe.discard(follower.key)
        self._ring(follower.key)

    def remove(self, follower: Follower) -> None:
        """Stop following ``follower``'s stream."""
        if self.followers.get(follower.key) is follower:
            del self.followers[follower.key]
            self._to_unsubscribe.add(follower.key)
            self._to_subscribe.discard(follower.key)

    def _ring(self, key: str) -> None:
        self._rung.add(key)
        self._ringing.set()

    async def _listen(self) -> None:
        """Keep one subscription to every followed stream's doorbell; ring the reader for each message.

        Only this task uses the subscription: it subscribes streams added and
        unsubscribes streams removed between two waits for a message (0.2 s
        at most), and reads each newly subscribed stream once, since a ring
        may have come before the subscription did.
        """
        backoff = Backoff()
        while not self._stopping:
            client = self.link.subscriber_client()
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.link.keys.idle)  # never rung: open with no stream yet
                subscribed: set[str] = set()
                self._to_subscribe, self._to_unsubscribe = set(self.followers), set()  # a new connection: all
                backoff.reset()
                while not self._stopping:
                    if self._to_subscribe or self._to_unsubscribe:
                        missing = [key for key in self._to_subscribe if key not in subscribed]
                        gone = [key for key in self._to_unsubscribe if key in subscribed]
                        self._to_subscribe, self._to_unsubscribe = set(), set()
                        if missing:
                            subscribed.update(missing)
                            await pubsub.subscribe(*missing)
                            for key in missing:
                                self._ring(key)
                            if len(missing) == len(self.followers):  # a new subscription: read them all
                                self._sweep_all = True
                        if gone:
                            subscribed.difference_update(gone)
                            await pubsub.unsubscribe(*gone)
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
                    if message is not None and message.get("type") == "message":
                        self._ring(message["channel"].decode())
            except (*RedisFault, ConnectionError) as exc:
                log.warning("the stream doorbells failed: %s; subscribing again", exc)
                await backoff.wait()
            finally:
                await pubsub.aclose()
                await client.aclose()

    async def _read(self) -> None:
        """Read the streams that rang (and all of them every second), deliver, repeat."""
        self._client = self.link.reader_client()
        backoff = Backoff()
        swept = time.monotonic()
        busy = False
        try:
            while not self._stopping:
                if time.monotonic() - swept >= SWEEP_SECONDS or self._sweep_all:
                    swept = time.monotonic()
                    keys = list(dict.fromkeys(self._sweep() + [k for k in self._rung if k in self.followers]))
                else:
                    if not self._rung:
                        self._ringing.clear()
                        try:
                            await asyncio.wait_for(self._ringing.wait(), max(0.0, swept + SWEEP_SECONDS
                                                                             - time.monotonic()))
                        except TimeoutError:
                            continue
                    wait = max((self.followers[k].gather() for k in self._rung if k in self.followers),
                               default=0.0)
                    if busy:
                        wait = max(wait, BUSY_GATHER)
                    if wait:
                        await asyncio.sleep(wait)
                    keys = [k for k in self._rung if k in self.followers]
                self._rung.clear()
                try:
                    busy = False
                    for start in range(0, len(keys), KEYS_PER_READ):
                        busy |= await self._read_some(keys[start : start + KEYS_PER_READ])
                except RedisFault as exc:
                    # Every follower resumes from the last ID it delivered: nothing lost or repeated.
                    self.link.failed(exc)
                    self._rung.update(keys)
                    await backoff.wait()
                    continue
                backoff.reset()
                self.link.recovered()
        finally:
            await self._client.aclose()

    def _sweep(self) -> list[str]:
        """Return the streams to read although their doorbell did not ring: all, or the next SWEEP_KEYS.

        All after a (re)subscription, when rings may have been lost.  Else a
        share in turn, so a ring lost some other way (none is known) delays a
        line by N / SWEEP_KEYS seconds at most, and the sweeps of 20,000
        streams cost a twentieth of reading them all every second.
        """
        keys = list(self.followers)
        if self._sweep_all:
            self._sweep_all = False
            return keys
        share, self._swept = in_turn(keys, self._swept, SWEEP_KEYS)
        return share

    async def _read_some(self, keys: list[str]) -> bool:
        followers = {key: self.followers[key] for key in keys if key in self.followers}
        if not followers:
            return False
        # One round trip: the doorbells cleared before the read (later appends ring again), the
        # entries, then the epochs, read after the entries (a new stream's is set by then).
        pipe = self._client.pipeline(transaction=False)
        rung = self.link.keys.rung
        if self.link.cluster:
            # Keys of different channels are in different slots: a command each, which
            # the cluster pipeline sends to each master in one round trip.
            for key in followers:
                pipe.delete(rung(key))
            for key, one in followers.items():
                pipe.xread({key: one.last_id}, count=READ_COUNT)
            for one in followers.values():
                pipe.get(one.epoch_key)
            answers = await pipe.execute()
            count = len(followers)
            found = [part[0] for part in answers[count : 2 * count] if part]
            epochs = answers[2 * count :]
        else:
            pipe.delete(*(rung(key) for key in followers))
            pipe.xread({key: f.last_id for key, f in followers.items()}, count=READ_COUNT)
            pipe.mget([f.epoch_key for f in followers.values()])
            _, found, epochs = await pipe.execute()
        if not found:
            return False
        epoch_of = dict(zip(followers, epochs, strict=True))
        now = time.time() * 1000
        for raw_key, entries in found:
            key = raw_key.decode()
            epoch = epoch_of[key]
            follower = self.followers.get(key)
            if follower is not followers[key]:
                continue  # it left meanwhile
            self.lag = max(0.0, now - parse_id(entries[-1][0].decode())[0]) / 1000
            follower.take(entries, epoch)
            if len(entries) == READ_COUNT:
                self._ring(key)  # more waiting
        return True

    @property
    def connections(self) -> int:
        """Return the connections the reader holds: the subscription and the reads (once started)."""
        return 2 if self._tasks else 0

    async def stop(self) -> None:
        """Stop reading and close both connections."""
        self._stopping = True
        await cancel_and_wait(self._tasks)
        self._tasks = []
