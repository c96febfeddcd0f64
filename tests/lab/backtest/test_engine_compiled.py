"""The compiled kernel: simulate's bar loop stays free of reference counting.

numba inlines the step functions into :func:`lab.backtest.engine.simulate`; an array handed to a
step is reference-counted (an atomic increment and decrement a bar) unless numba can prove the
pair redundant, which depends on how the step is written (see ``on_bar_close``). That cost made
the kernel four times slower once, silently; this test reads the compiled code instead of a clock.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba import njit

from lab.backtest import engine


def _kernel_arguments(n: int = 3, m: int = 2) -> tuple:
    f, i = np.zeros(n), np.zeros(n, np.int64)
    minutes = (np.zeros(m, np.int64), np.zeros(m), np.zeros(m), np.zeros(m))
    params = engine.EngineParams(0.25, 1.25, 6.0, 8.0, 6, 1.0, 1.0, 0.84, 100.0, 3, 30 * 60 * 10**9, np.inf,
                                 5 * 60 * 10**9, 0.25)
    return (f, f, f, f, i, i, i, i, np.zeros(n, np.int8), f, i, np.zeros(n, np.bool_), *minutes, params)


def _llvm_function_body(ir: str, name: str) -> str:
    """The body of the compiled Python function ``name`` (not its CPython or cfunc wrappers)."""
    lines = ir.splitlines()
    pattern = re.compile(rf"^define .*@_ZN[0-9A-Za-z_]*?{len(name)}{name}B")
    start = next(k for k, line in enumerate(lines) if pattern.match(line))
    end = next(k for k in range(start, len(lines)) if lines[k].startswith("}"))
    return "\n".join(lines[start:end + 1])


@pytest.mark.slow  # compiles the kernel afresh (the disk cache cannot show its code)
def test_simulate_increments_reference_counts_only_for_its_own_array_arguments():
    arguments = _kernel_arguments()
    fresh = njit(cache=False)(engine.simulate.py_func)  # the disk-cached kernel cannot show its code
    count, trades, counters = fresh(*arguments)
    assert count == 0 and counters.shape == (1,)
    body = _llvm_function_body(fresh.inspect_llvm(fresh.signatures[0]), "simulate")
    array_arguments = sum(isinstance(a, np.ndarray) for a in arguments)
    increfs = body.count("call void @NRT_incref")
    assert increfs <= array_arguments, (
        f"simulate's compiled code increments reference counts {increfs} times, more than its "
        f"{array_arguments} array arguments: an inlined step now passes arrays in a way numba cannot prune, "
        "costing atomic operations every bar; keep array arguments out of the steps' flat path "
        "(see on_bar_close's early return)")
