"""glibc malloc settings for a server that receives large tensors on many threads.

With glibc's defaults every request buffer over a few hundred KB (a 1x3x224x224 float32
tensor is 602 KB) gets fresh pages from the kernel: it is mmapped and unmapped per request,
or the thread's arena is trimmed after each free, so each request pays page faults and page
zeroing. Keeping freed memory for reuse cut the server's minor page faults per 602 KB-in,
602 KB-out gRPC request from about 600 to 2-4 (one client, quiet machine), and a bare grpcio
server's CPU per 602 KB request from 0.62-0.77 to 0.40-0.46 ms (docs/performance_tuning.md,
"Memory allocator").
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# Blocks up to 32 MB (glibc's own ceiling for its dynamic threshold) come from the heap, and a
# heap keeps up to 64 MB free at its top before giving memory back to the kernel.
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20

# Environment settings through which a user has already chosen these values.
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for reuse of large request buffers; return whether
    they were set. Left alone when the environment already sets them (MALLOC_*_ variables or
    glibc.malloc tunables) and on C libraries other than glibc."""
    if any(name in os.environ for name in _USER_SETTINGS) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        log.info("malloc thresholds left as the environment sets them")
        return False
    libc = ctypes.CDLL(None)  # the symbols already loaded in this process, the C library's among them
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):  # glibc only (musl has mallopt)
        log.info("malloc thresholds left at the C library's defaults (not glibc)")
        return False
    done = (
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    )
    if done:
        log.info(
            "malloc: blocks up to %d MB reused from the heap, up to %d MB kept free before trimming",
            MMAP_THRESHOLD_BYTES >> 20,
            TRIM_THRESHOLD_BYTES >> 20,
        )
    else:
        log.warning("malloc thresholds could not be set (mallopt refused them): glibc's defaults apply")
    return done
