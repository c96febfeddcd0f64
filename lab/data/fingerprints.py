"""Content fingerprints of trading sessions: what a seal follows, whatever the file's name says.

A session is fingerprinted by the sequence of its regular-hours minute-to-minute close changes,
counted in the file's own price step (the smallest non-zero change in the data): nothing of the
file's name, declared instrument, time stamps or price level enters it. Two fingerprints per session:

* ``exact``: SHA-256 (16 hex) of the whole sequence of steps;
* ``coarse``: a one-permutation MinHash signature (:data:`SIGNATURE_SIZE` bin minima) of the sequence's 8-step
  shingles, so that a session with a missing or an extra minute (one step split or merged) still
  matches: two sessions match when at least :data:`COARSE_MATCH` of the minima agree (estimated
  Jaccard similarity of their shingle sets >= 0.75; unrelated sessions share almost no shingle).

* ``head``: SHA-256 (16 hex) of the session's first :data:`HEAD_STEPS` steps (its first hour), so that
  a session arriving minute by minute (``lab paper --follow``) is recognised an hour after its open
  rather than at its close; empty when those steps hold fewer than :data:`MIN_MOVES` moves.

Sessions with fewer than :data:`MIN_MOVES` non-zero steps (holidays' stubs, prices that never
move) get no fingerprint: they carry too little content to recognise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from lab.market.sessions import epoch_ns

__all__ = ["SessionPrint", "session_fingerprints", "match_sessions", "prints_table", "prints_from_table", "SIGNATURE_SIZE", "COARSE_MATCH", "MIN_MOVES",
           "SHINGLE", "HEAD_STEPS"]

SHINGLE = 8  # steps per shingle
SIGNATURE_SIZE = 16
COARSE_MATCH = 12  # minima that must agree for a coarse match
MIN_MOVES = 30  # non-zero steps a session needs to be fingerprinted
HEAD_STEPS = 60  # the steps of a session's head print: its first hour of minutes
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: a bijection of 64-bit words
_ADDEND = np.uint64(0x632BE59BD9B4E019)
_BIN_BITS = 4  # 2**4 = SIGNATURE_SIZE bins
_LOW_BITS = np.uint64(2**(64 - _BIN_BITS) - 1)
_EMPTY = np.uint64(2**64 - 1)  # a bin no shingle fell into (never counts as agreeing)


@dataclass(frozen=True)
class SessionPrint:
    """The fingerprints of one session (``session``: its ET date as ``YYYY-MM-DD``)."""

    session: str
    exact: str
    coarse: tuple[int, ...]
    head: str = ""

    def as_json(self) -> list:
        return [self.session, self.exact, [int(v) for v in self.coarse], self.head]

    @classmethod
    def from_json(cls, item: list) -> "SessionPrint":
        return cls(str(item[0]), str(item[1]), tuple(int(v) for v in item[2]), str(item[3]) if len(item) > 3 else "")


def _price_step(close: np.ndarray) -> float:
    """The file's own price step: the smallest non-zero absolute change (points)."""
    moves = np.diff(close)
    np.abs(moves, out=moves)
    smallest = float(np.min(moves, where=moves > 1e-9, initial=np.inf))  # no copy of the moves that count
    return smallest if np.isfinite(smallest) else 0.0


def session_fingerprints(minutes: pd.DataFrame, sessions: pd.DataFrame) -> list[SessionPrint]:
    """Fingerprint every regular session of ``minutes`` (a minute frame in ET, bars stamped at their start).

    Parameters
    ----------
    minutes : DataFrame
        The minute-frame contract (``close`` in points; tz-aware index).
    sessions : DataFrame
        ``session_open``/``session_close`` per session date (:func:`lab.market.sessions.regular_sessions`).

    Returns
    -------
    list of SessionPrint
        One per session with at least :data:`MIN_MOVES` moves, in session order.

    Examples
    --------
    >>> import datetime as dt
    >>> from lab.market.sessions import regular_sessions
    >>> days = regular_sessions("XNYS", dt.date(2023, 3, 1), dt.date(2023, 3, 2))
    >>> index = pd.date_range("2023-03-01 09:30", "2023-03-01 15:59", freq="min", tz="America/New_York")
    >>> close = 4000 + 0.25 * np.cumsum(np.random.default_rng(1).integers(-2, 3, len(index)))
    >>> prints = session_fingerprints(pd.DataFrame({"close": close}, index=index), days)
    >>> [p.session for p in prints], len(prints[0].exact), len(prints[0].coarse)
    (['2023-03-01'], 16, 16)
    >>> shifted = pd.DataFrame({"close": close + 123.5}, index=index + pd.Timedelta(days=1))
    >>> again = session_fingerprints(shifted, regular_sessions("XNYS", dt.date(2023, 3, 2), dt.date(2023, 3, 2)))
    >>> again[0].exact == prints[0].exact
    True
    >>> first_hour = session_fingerprints(shifted.iloc[:HEAD_STEPS + 1], days.iloc[1:])  # arriving: its first hour
    >>> first_hour[0].head == prints[0].head != "", first_hour[0].exact == prints[0].exact
    (True, False)
    """
    if minutes.empty or sessions.empty:
        return []
    stamps = epoch_ns(minutes.index)
    opens = epoch_ns(sessions["session_open"])
    closes = epoch_ns(sessions["session_close"])
    first = np.searchsorted(stamps, opens, side="left")
    last = np.searchsorted(stamps, closes, side="left")
    close = minutes["close"].to_numpy(dtype=np.float64)
    step = _price_step(close)
    if step == 0.0:
        return []
    # every session's steps, concatenated in session order, and where each session's steps start
    lengths = np.maximum(last - first - 1, 0)
    keep = lengths >= MIN_MOVES
    first, last, lengths, dates = first[keep], last[keep], lengths[keep], sessions.index[keep]
    if not len(first):
        return []
    # every session's minute-to-minute changes, concatenated: close[i + 1] - close[i] for i in lo .. hi - 2
    at = np.repeat(first - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(int(lengths.sum()))
    steps = np.rint((close[at + 1] - close[at]) / step).astype(np.int64)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    moves = np.add.reduceat((steps != 0).astype(np.int64), starts)
    # One-permutation MinHash of the 8-step shingles inside each session: one hash per shingle, its
    # top bits pick one of SIGNATURE_SIZE bins, and each bin keeps its smallest hash
    small = np.clip(steps, -127, 127).astype(np.int8)
    shingles = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(small, SHINGLE)).view(np.int64).ravel()
    owner = np.repeat(np.arange(len(lengths)), lengths)
    inside = owner[:len(shingles)] == owner[SHINGLE - 1:]
    hashed = shingles[inside].astype(np.uint64) * _MULTIPLIER + _ADDEND  # wraps mod 2**64
    hashed ^= hashed >> np.uint64(29)
    hashed *= _MULTIPLIER
    bins = (hashed >> np.uint64(64 - _BIN_BITS)).astype(np.int64)
    minima = np.full(len(lengths) * SIGNATURE_SIZE, _EMPTY, dtype=np.uint64)
    np.minimum.at(minima, owner[:len(shingles)][inside] * SIGNATURE_SIZE + bins, hashed & _LOW_BITS)
    minima = minima.reshape(len(lengths), SIGNATURE_SIZE)
    wide = np.clip(steps, -32767, 32767).astype(np.int16)
    names = pd.DatetimeIndex(dates).strftime("%Y-%m-%d")
    coarse = minima.tolist()  # Python ints, once for every session
    prints = []
    for k, (name, start, length) in enumerate(zip(names, starts.tolist(), lengths.tolist())):
        if moves[k] < MIN_MOVES:
            continue
        exact = hashlib.sha256(wide[start:start + length].tobytes()).hexdigest()[:16]
        first_hour = wide[start:start + HEAD_STEPS] if length >= HEAD_STEPS else wide[:0]
        head = (hashlib.sha256(first_hour.tobytes()).hexdigest()[:16]
                if np.count_nonzero(first_hour) >= MIN_MOVES else "")
        prints.append(SessionPrint(name, exact, tuple(coarse[k]), head))
    return prints


def prints_table(prints: Iterable[SessionPrint]) -> pd.DataFrame:
    """Fingerprints as a table (``session``, ``exact``, ``head``, ``c0``..``c15``) for Parquet."""
    prints = list(prints)
    table = pd.DataFrame({"session": [p.session for p in prints], "exact": [p.exact for p in prints],
                          "head": [p.head for p in prints]})
    coarse = np.array([p.coarse for p in prints], dtype=np.uint64).reshape(len(prints), SIGNATURE_SIZE)
    for k in range(SIGNATURE_SIZE):
        table[f"c{k}"] = coarse[:, k]
    return table


def prints_from_table(table: pd.DataFrame) -> list[SessionPrint]:
    """The inverse of :func:`prints_table` (a table written before head prints has none)."""
    coarse = table[[f"c{k}" for k in range(SIGNATURE_SIZE)]].to_numpy(dtype=np.uint64)
    heads = table["head"].fillna("").astype(str) if "head" in table else [""] * len(table)
    return [SessionPrint(str(s), str(e), tuple(int(v) for v in c), h)
            for s, e, c, h in zip(table["session"], table["exact"], coarse, heads)]


def match_sessions(candidates: Iterable[SessionPrint],
                   sealed: Mapping[str, Iterable[SessionPrint]]) -> list[tuple[SessionPrint, str, SessionPrint, str]]:
    """Candidate sessions whose content matches a sealed session.

    Parameters
    ----------
    candidates : iterable of SessionPrint
        The sessions a job is about to use.
    sealed : mapping
        Seal name -> the fingerprints of its sessions.

    Returns
    -------
    list of (candidate, seal name, sealed session, "exact", "coarse" or "head")
        ``head``: the candidate's first hour is that of the sealed session (a session still arriving).
    """
    exact: dict[str, tuple[str, SessionPrint]] = {}
    heads: dict[str, tuple[str, SessionPrint]] = {}
    bands: dict[tuple[int, tuple[int, ...]], list[tuple[str, SessionPrint]]] = {}
    width = SIGNATURE_SIZE // 4
    for name, prints in sealed.items():
        for p in prints:
            exact.setdefault(p.exact, (name, p))
            if p.head:
                heads.setdefault(p.head, (name, p))
            for band in range(4):
                bands.setdefault((band, p.coarse[band * width:(band + 1) * width]), []).append((name, p))
    found = []
    for c in candidates:
        if c.exact in exact:
            name, p = exact[c.exact]
            found.append((c, name, p, "exact"))
            continue
        if c.head and c.head in heads:
            name, p = heads[c.head]
            found.append((c, name, p, "head"))
            continue
        seen: set[tuple[str, str]] = set()
        for band in range(4):
            for name, p in bands.get((band, c.coarse[band * width:(band + 1) * width]), ()):
                if (name, p.session) in seen:
                    continue
                seen.add((name, p.session))
                if sum(a == b and a != _EMPTY for a, b in zip(c.coarse, p.coarse)) >= COARSE_MATCH:
                    found.append((c, name, p, "coarse"))
                    break
            else:
                continue
            break
    return found
