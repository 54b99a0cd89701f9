"""Shared arrays: one layout, created by one process and attached by another; plain memory offline."""

import multiprocessing as mp

import numpy as np

from engine.processes.shared import ALIGN, SharedArrays

LAYOUT = {"counts": ((3,), np.int64), "wave": ((5, 2), np.float32), "flag": ((1,), np.int8)}


def _attach_and_write(name):
    arrays = SharedArrays(LAYOUT, name)
    arrays.counts[:] = [1, 2, 3]
    arrays.wave[4] = [0.5, -0.5]
    arrays.flag[0] = 7
    arrays.close()


def test_an_attached_process_writes_what_the_creator_reads():
    arrays = SharedArrays(LAYOUT)
    try:
        assert arrays.owner and not arrays.counts.any() and arrays.wave.shape == (5, 2)
        process = mp.get_context("spawn").Process(target=_attach_and_write, args=(arrays.name,))
        process.start()
        process.join(30)
        assert process.exitcode == 0
        assert arrays.counts.tolist() == [1, 2, 3] and arrays.wave[4].tolist() == [0.5, -0.5]
        assert arrays.flag[0] == 7 and not arrays.wave[:4].any()   # arrays do not overlap
    finally:
        arrays.close()


def test_each_array_starts_on_its_own_cache_line_and_local_arrays_need_no_shared_memory():
    arrays = SharedArrays(LAYOUT, local=True)
    starts = [a.__array_interface__["data"][0] for a in (arrays.counts, arrays.wave, arrays.flag)]
    assert arrays.owner and arrays.name is None
    assert [s - starts[0] for s in starts] == [0, ALIGN, 2 * ALIGN]
    arrays.close()
