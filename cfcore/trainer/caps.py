"""One cap on the background jobs of a workspace, whatever their kind, and who is still there to want them.

A workspace (an owner) may have :data:`MAX_JOBS_PER_OWNER` jobs under way at once, counting trainings, factor
jobs, t-SNE maps and measurements together; on a public server the workspaces one client address opened share a
cap too (``CFCORE_CLIENT_MAX_JOBS``). Each job runner registers a function that lists the owners of its unfinished
jobs, one entry per job, so the count is always the runners' own state, never a second bookkeeping.

Pages mark their workspace as seen on every run (a tab watching a job reruns every second); a queued job whose
every owner has not been seen for ``absent_after_s`` is dropped by its runner, so closed tabs cannot hold the
queue. No Streamlit and no TensorFlow here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

# Trainings, factor jobs, maps and measurements together: one running and one waiting, whatever page asked.
MAX_JOBS_PER_OWNER = 2
# A queued job whose owners have had no page open this long is dropped (a running one keeps its time limit).
ABSENT_AFTER_S = 180.0
# Workspaces unseen this long are forgotten (their queued jobs were dropped long before), once this many are known.
_FORGET_AFTER_S = 86_400.0
_PRUNE_ABOVE = 10_000
_KIND_WORDS = {"training": "training", "map": "t-SNE map", "measurement": "measurement"}


class CapError(RuntimeError):
    """A job cannot be accepted: its workspace or its client address has as many under way as it may."""


class JobCaps:
    """The per-workspace and per-client caps over every kind of background job, and presence.

    Args:
        max_per_owner: Jobs one workspace may have under way at once.
        max_per_client: Jobs the workspaces of one client address may have at once (0: no limit).
        absent_after_s: After this long unseen, a workspace's queued jobs are no longer wanted.
        clock: Seconds, monotonic (tests pass a fake).
    """

    def __init__(self, max_per_owner: int = MAX_JOBS_PER_OWNER, max_per_client: int = 0,
                 absent_after_s: float = ABSENT_AFTER_S, clock: Callable[[], float] = time.monotonic):
        self.max_per_owner, self.max_per_client = int(max_per_owner), int(max_per_client)
        self.absent_after_s = float(absent_after_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._sources: dict[str, Callable[[], list[str]]] = {}
        self._last_seen: dict[str, float] = {}
        self._client_of: dict[str, str] = {}

    def count_with(self, kind: str, owners: Callable[[], list[str]]) -> None:
        """Count the jobs of a runner: ``owners()`` lists the owner of each unfinished job of ``kind``."""
        with self._lock:
            self._sources[kind] = owners

    def seen(self, owner: str, client: str = "") -> None:
        """Mark ``owner`` as having a page open now (from client address ``client``, where known)."""
        with self._lock:
            now = self._clock()
            self._last_seen[owner] = now
            if client:
                self._client_of[owner] = client
            if len(self._last_seen) > _PRUNE_ABOVE:  # a public server sees thousands of visitors a day
                for gone in [o for o, last in self._last_seen.items() if now - last > _FORGET_AFTER_S]:
                    del self._last_seen[gone]
                    self._client_of.pop(gone, None)

    def present(self, owner: str) -> bool:
        """Whether ``owner`` had a page open in the last ``absent_after_s`` (an owner never seen, such as a script's,
        counts as present)."""
        with self._lock:
            last = self._last_seen.get(owner)
        return last is None or self._clock() - last <= self.absent_after_s

    def check(self, owner: str, kind: str) -> None:
        """Raise :class:`CapError` when ``owner`` (or its client address) may not start another job of ``kind``.
        A job of no owner ("": a script's, a test's) is not capped here."""
        if not owner:
            return
        with self._lock:
            sources = dict(self._sources)
            client = self._client_of.get(owner, "")
            same_client = {o for o, c in self._client_of.items() if c == client} if client else set()
        counts: dict[str, Counter] = {found: Counter(source()) for found, source in sources.items()}
        mine = Counter({found: counted[owner] for found, counted in counts.items() if counted[owner]})
        total = sum(mine.values())
        if total >= self.max_per_owner:
            if set(mine) == {"training"}:
                raise CapError("you already have a training running and one waiting; stop one or let it finish "
                               "first")
            listed = ", ".join(f"{n} {_KIND_WORDS.get(found, found)}{'s' if n > 1 else ''}"
                               for found, n in sorted(mine.items()))
            raise CapError(f"this workspace already has {total} jobs under way ({listed}); stop one or let it "
                           "finish first")
        if self.max_per_client and client:
            ours = sum(counted[o] for counted in counts.values() for o in same_client)
            if ours >= self.max_per_client:
                raise CapError(f"your network address already has {ours} jobs under way on this server, the most "
                               "it may; try again when one has finished")
