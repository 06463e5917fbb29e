"""A member that dies holding its lock: ``python holder.py URL MEMBER GROUP LOCK SECONDS``.

It joins GROUP, takes LOCK, prints ``held``, lets its heart beat for SECONDS, then ends with
``os._exit`` (as a ``kill -9`` would end it): it never leaves the group nor releases the lock.
"""

from __future__ import annotations

import os
import sys
import time

from volclone.cluster.coordination import Coordination


def main(url: str, member: str, group: str, lock: str, seconds: str) -> None:
    coord = Coordination(url, member)
    coord.start()
    coord.join(group, {"pid": os.getpid()})
    held = coord.try_lock(lock)
    assert held is not None, f"{lock} is held by someone else"
    print("held", flush=True)
    time.sleep(float(seconds))
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
