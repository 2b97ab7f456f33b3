"""keep_freed_memory() changes glibc's malloc as documented, and leaves it alone when the
environment has chosen: checked in a fresh interpreter, where nothing has moved glibc's
dynamic thresholds yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Allocates 1 MB (mmapped with glibc's 128 KB default threshold: bit 2 of the chunk's size
# field, just before the pointer) and frees 8 MB (kept at the heap's top, in mallinfo2's
# keepcost, only below the trim threshold).
PROBE = """
import ctypes, json
from ie_serving.allocator import keep_freed_memory

class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Mallinfo2
applied = keep_freed_memory()
block = libc.malloc(1 << 20)
mmapped = bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2)
libc.free(libc.malloc(8 << 20))
print(json.dumps({"applied": applied, "mmapped": mmapped, "kept": libc.mallinfo2().keepcost}))
"""


def probe(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_large_blocks_come_from_the_heap_and_freed_memory_is_kept() -> None:
    result = probe({})
    assert result["applied"] is True
    assert result["mmapped"] is False, "a 1 MB block should come from the heap, not its own mmap"
    assert result["kept"] >= 8 << 20, f"a freed 8 MB block should stay at the heap's top, kept {result['kept']}"


@pytest.mark.parametrize(
    "env",
    [{"GLIBC_TUNABLES": "glibc.malloc.perturb=0"}, {"MALLOC_TRIM_THRESHOLD_": "131072"}, {"MALLOC_TOP_PAD_": "0"}],
)
def test_the_environment_choice_is_kept(env: dict[str, str]) -> None:
    result = probe(env)
    assert result["applied"] is False
    assert result["mmapped"] is True, "glibc's default: a 1 MB block is mmapped on its own"
