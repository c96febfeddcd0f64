"""NumPy's transparent-huge-page advice, switched off while the lab streams large short-lived arrays.

When the kernel's transparent-huge-page policy is ``madvise`` (the common default:
``/sys/kernel/mm/transparent_hugepage/enabled``), NumPy advises huge pages (``MADV_HUGEPAGE``)
for every array of 4 MB and more (NumPy's documentation, *Global state: madvise hugepage on
Linux*). That helps long-lived arrays read many times. A cold featurize is the opposite: it
allocates, fills once and frees hundreds of arrays of 13 MB (one float column of 1.6 M minutes),
and each fault of a fresh 2 MB page makes the kernel zero the whole page at once. On the 2-core
virtual machines the lab runs on, that zeroing was the largest single cost of the process
(``perf``: ``clear_page_erms`` under ``do_huge_pmd_anonymous_page``, 29 % of the samples); with
4 KB pages the process spends 0.1-0.3 s less CPU in the kernel and about 0.1 s less wall time
(figures and how they were measured: ``benchmarks/README.md``, *Cold featurize against the peer
script*).

:func:`without_huge_pages` turns the advice off for the calls inside it and restores what was
there after the outermost one ends. A user who set ``NUMPY_MADVISE_HUGEPAGE`` chose for the
process: then nothing is changed. Only NumPy's own advice is affected; the kernel's policy, other
allocators (pyarrow's, LightGBM's) and arrays allocated before are untouched.

:data:`PIECE_ROWS` is the other half of the same finding: how many rows a one-pass check over the
minutes works on at once, so that its temporaries are reused rather than freshly faulted in.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable, Iterator

try:  # NumPy's runtime switch: sets the advice, returns the previous setting
    from numpy._core.multiarray import _set_madvise_hugepage as _toggle
except ImportError:  # a private name of NumPy 2: a later NumPy may drop it, and then nothing is switched
    _toggle: Callable[[bool], bool] | None = None  # type: ignore[no-redef]

__all__ = ["without_huge_pages", "HUGE_PAGE_ENV", "PIECE_ROWS"]

#: NumPy's environment variable for its huge-page advice ("0" off, "1" on), read when NumPy is imported.
HUGE_PAGE_ENV = "NUMPY_MADVISE_HUGEPAGE"

_LOCK = threading.Lock()
_depth = 0
_before: bool | None = None


#: Rows a one-pass check over the minutes works on at once (2 MB per float column): its temporaries
#: stay small and are reused instead of fresh 13 MB arrays per operation on 1.6 M minutes, whose
#: first touches cost the kernel more than the arithmetic (``lab.data.integrity``, ``lab.data.readers``).
PIECE_ROWS = 1 << 18


@contextlib.contextmanager
def without_huge_pages() -> Iterator[None]:
    """No huge-page advice for NumPy arrays allocated inside (nested and threaded uses included).

    The setting is NumPy's and so the process's: another thread's arrays allocated meanwhile get
    4 KB pages too (a matter of speed, never of results). The first caller to enter turns it off,
    the last to leave restores it. Unchanged when ``NUMPY_MADVISE_HUGEPAGE`` is set or NumPy has no
    runtime switch. Usable as a decorator (of a plain function: a generator's body runs after the
    call has returned).
    """
    global _depth, _before
    toggle = None if HUGE_PAGE_ENV in os.environ else _toggle
    if toggle is None:
        yield
        return
    with _LOCK:
        if _depth == 0:  # switched before counted: a failing switch leaves nothing behind
            _before = toggle(False)
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                toggle(bool(_before))
