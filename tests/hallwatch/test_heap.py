"""Freed heap goes back to the system (`hallwatch.heap`), in the main arena and in a thread's."""

from __future__ import annotations

import ctypes
import os
import threading

import pytest

from hallwatch.heap import can_trim, start_heap_trimming, trim_heap

CHUNK = 4000            # small enough for the heap (glibc serves 128 KiB and more with mmap)
CHUNKS = 25_000         # ~100 MB
FREED_AT_LEAST = 60 * 2**20

pytestmark = pytest.mark.skipif(not can_trim(), reason="glibc only; hallwatch runs on Debian")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def freed_but_kept() -> tuple[int, int]:
    """Allocate and touch ~100 MB of small chunks, keep one chunk after them (so the freed run is not the
    heap's top, which glibc gives back by itself) and free the rest; RSS before and after trimming."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    chunks = [libc.malloc(CHUNK) for _ in range(CHUNKS)]
    assert all(chunks)
    for chunk in chunks:
        ctypes.memset(chunk, 1, CHUNK)
    pin = libc.malloc(CHUNK)
    for chunk in chunks:
        libc.free(chunk)
    kept = resident_bytes()
    assert trim_heap()
    trimmed = resident_bytes()
    libc.free(pin)
    return kept, trimmed


def test_trimming_returns_freed_heap_of_the_main_arena() -> None:
    kept, trimmed = freed_but_kept()
    assert kept - trimmed >= FREED_AT_LEAST


def test_trimming_returns_freed_heap_of_a_threads_arena() -> None:
    result: list[tuple[int, int]] = []
    thread = threading.Thread(target=lambda: result.append(freed_but_kept()))
    thread.start()
    thread.join()
    kept, trimmed = result[0]
    assert kept - trimmed >= FREED_AT_LEAST


def test_the_trimming_thread_trims_until_stopped() -> None:
    stop = threading.Event()
    calls: list[int] = []
    twice = threading.Event()

    def trim() -> None:
        calls.append(1)
        if len(calls) == 2:
            twice.set()

    thread = start_heap_trimming(stop, every_s=0.01, trim=trim)
    assert thread is not None and thread.name == "heap-trim"
    assert twice.wait(10.0)
    stop.set()
    thread.join(10.0)
    assert not thread.is_alive()


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="every_s"):
        start_heap_trimming(threading.Event(), every_s=0)
