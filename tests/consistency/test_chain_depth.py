"""Chains stay short: 100 successive clones of one attached volume that is being written.

Every clone puts a layer on the source's chain and starts the clone on the frozen one;
past ``VOLCLONE_MAX_CHAIN_DEPTH`` the service flattens in the background (live
``block-stream`` for the exported source, offline rebase for a closed clone). The
chains must stay within one layer of the bound while clones keep coming and within
the bound once the flattening has caught up; the writer's I/O must never fail; and
every clone must hold what was flushed before its request: its counter lies between
the writer's progress at POST and at SUCCESS, and each of the writer's rotating slots
holds the last value the counter says was written there.
"""

from __future__ import annotations

import time
from typing import Any

from conftest import Env

from .support import SLOTS, Writer, attach_in_use, depth, read_u64s, read_u64s_nbd, slot_offset

BOUND = 4
CLONES = 100


def expected_slots(counter: int) -> list[set[int]]:
    """What slot j may hold in a copy whose counter reads ``counter``: the last n <= counter with
    n % SLOTS == j (0 if none yet), or counter + 1 if that is slot j's (written before the counter)."""
    out = []
    for j in range(SLOTS):
        last = counter - (counter - j) % SLOTS
        ok = {last if last > 0 else 0}
        if (counter + 1) % SLOTS == j:
            ok.add(counter + 1)
        out.append(ok)
    return out


def test_chains_stay_within_the_bound_through_100_clones_of_a_volume_being_written(
        make_env: Any, record_property: Any) -> None:
    e: Env = make_env(VOLCLONE_MAX_CHAIN_DEPTH=str(BOUND))
    source = e.user.create_volume(1, "deep")["id"]
    uri = attach_in_use(e.user, source)
    writer = Writer([uri], slots=True)
    writer.start()
    clones: list[tuple[int, str, int]] = []  # (writer progress at POST, clone id, ... at SUCCESS)
    deepest = {"source": 0, "clone": 0}
    try:
        writer.wait_for(50)
        first = writer.done
        for _ in range(CLONES):
            before = writer.done
            p = e.user.wait(e.user.clone([source]), timeout=120)
            after = writer.done
            assert p["flow_details"]["cloneFlow"] == "SUCCESS", p
            clone = p["details"]["results"][source]
            clones.append((before, clone, after))
            deepest["source"] = max(deepest["source"], depth(e.server, source))
            deepest["clone"] = max(deepest["clone"], depth(e.server, clone))
            assert deepest["source"] <= BOUND + 1 and deepest["clone"] <= BOUND + 1, (
                f"after clone {len(clones)}: deepest chains {deepest}, bound {BOUND}")
        # Once the background flatten has caught up, every chain is within the bound.
        deadline = time.monotonic() + 30
        while True:
            depths = {v: depth(e.server, v) for v in [source, *(c for _, c, _ in clones)]}
            if max(depths.values()) <= BOUND or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        written = writer.stop()
    flattened = e.server.log().count("flattening it")
    msg = (f"{CLONES} clones, writer n={first}..{written}, deepest source chain {deepest['source']}, "
           f"deepest clone chain {deepest['clone']} (bound {BOUND}), {flattened} background flattens, "
           f"longest write+flush {writer.longest_op_s * 1000:.1f} ms")
    record_property("summary", msg)
    print("\n" + msg)
    assert max(depths.values()) <= BOUND, f"chains deeper than {BOUND} 30 s after the last clone: " + str(
        {v: d for v, d in depths.items() if d > BOUND})
    assert deepest["source"] > BOUND - 1 and flattened >= CLONES // BOUND, "the bound was never reached: " + msg
    assert written - first >= 20 * CLONES, "the writer hardly ran: " + msg

    # The source holds the writer's last values (read over its attachment's export)...
    offsets = [0, *(slot_offset(j) for j in range(SLOTS))]
    with_source = read_u64s_nbd(uri, offsets)
    assert with_source[0] == written
    assert all(v in ok for v, ok in zip(with_source[1:], expected_slots(written), strict=False)), with_source
    # ... and every clone what was flushed before its request, consistently across its blocks.
    wrong = []
    for before, clone, after in clones:
        counter, *slots = read_u64s(e.server, clone, offsets)
        slots_ok = all(v in ok for v, ok in zip(slots, expected_slots(counter), strict=False))
        if not (before <= counter <= after + 1) or not slots_ok:
            wrong.append((before, counter, after, slots))
    assert wrong == [], f"{len(wrong)} of {CLONES} clones hold the wrong data: {wrong[:3]}"

