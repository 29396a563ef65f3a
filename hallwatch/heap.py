"""Giving the memory a long-running process has freed back to the system.

glibc keeps freed memory in its arenas for reuse and returns it only when a free chunk sits at the top
of a heap. A worker's frame-sized buffers churn across some fifty threads, and a worker that briefly
held another's cameras (that worker died) frees their memory in the middle of its heaps: its RSS then
stays at the peak (`docs/benchmarks.md`, the soaks at 16 cameras per worker). `malloc_trim(0)` hands
back every whole free page of every arena (glibc 2.8 and later), as Orthanc's housekeeper and Dask's
workers do. It runs in its own thread: ctypes releases the GIL around the call, so only threads that
allocate while it walks an arena wait for it.

Where the C library is not glibc (musl, macOS) there is no `malloc_trim` and nothing to do. With
another allocator preloaded (jemalloc), glibc's arenas are empty and the call costs nothing.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_EVERY_S = 60.0


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the symbols already loaded in this process
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _malloc_trim()


def can_trim() -> bool:
    return _MALLOC_TRIM is not None


def trim_heap() -> bool:
    """Return the free heap's whole pages to the system; True if glibc released any."""
    return bool(_MALLOC_TRIM(0)) if _MALLOC_TRIM is not None else False


def start_heap_trimming(stop: threading.Event, *, every_s: float = TRIM_EVERY_S,
                        trim: Callable[[], object] = trim_heap) -> threading.Thread | None:
    """A daemon thread that trims the heap every `every_s` until `stop` is set; None where there is
    nothing to trim."""
    if not every_s > 0:
        raise ValueError(f"every_s must be positive, not {every_s}")
    if trim is trim_heap and not can_trim():
        log.info("no malloc_trim in this C library: freed memory stays with the allocator")
        return None

    def run() -> None:
        while not stop.wait(every_s):
            trim()

    thread = threading.Thread(target=run, name="heap-trim", daemon=True)
    thread.start()
    return thread
