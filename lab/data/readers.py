"""Readers and writers of 1-minute OHLCV files.

Formats
-------
* FirstRate Data ``.txt``/``.csv``: headerless ``YYYY-MM-DD HH:MM:SS,open,high,low,close,volume``,
  naive US/Eastern stamps at the *start* of each minute.
* Any CSV with named columns in any order and any case, separated by commas, semicolons or tabs,
  a UTF-8 byte-order mark ignored: a stamp column (``time``/``timestamp``/``datetime``/``date``)
  or a date and a time-of-day column (``Date,Time,...``), ``open, high, low, close`` (or
  ``last``) and ``volume`` (or TradeStation's ``Up``/``Down`` split, summed); stamps naive (read
  in ``tz``) or carrying an offset / ``Z`` (converted). Stamps that are not ISO 8601
  (``11/19/2023 18:00``, ``20231119 180000``, ...) are read in the vendor layout that parses the
  most of them (:data:`_DATE_FORMATS` x :data:`_CLOCK_FORMATS`; month first before day first).
  Held-out ranges of such files are parsed, then cut by instant before any check looks at them.
* Parquet with the same columns (or a datetime index).
* Any of the text files compressed: a ``.gz`` file, or a ``.zip`` archive holding one ``.txt``/``.csv``
  (as FirstRate ships them); recognised by their first bytes, whatever the file's name.

Every reader returns the *minute frame* contract: a ``DatetimeIndex`` named ``time`` in
America/New_York (unit ns), float64 ``open/high/low/close``, int64 ``volume``, sorted and unique,
after :func:`lab.data.integrity.check_minutes` has passed (or dropped) every row.

DST: naive stamps of the repeated 01:xx hour in November are read in file order (first pass
daylight time, second pass standard time); a stamp inside the missing 02:xx hour in March cannot
exist and is reported as a bad row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import mmap
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lab.errors import DataError
from lab.data.integrity import DEFAULT_MAX_BAD_SHARE, BadRows, FileLines, check_minutes
from lab.market.sessions import MARKET_TZ, epoch_ns, in_ns
from lab.memory import PIECE_ROWS, without_huge_pages

__all__ = ["MinuteFile", "read_minutes", "sniff_format", "iso8601", "write_firstrate", "write_csv", "write_parquet", "MARKET_TZ"]

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = (*PRICE_COLUMNS, "volume")


@dataclass(frozen=True)
class MinuteFile:
    """A minute file after reading: the frame plus what the reader had to do to it.

    Attributes
    ----------
    minutes : DataFrame
        The minute-frame contract (see module docstring).
    rows_read : int
        Data rows in the file (header excluded).
    rows_dropped : dict
        ``rule -> count`` of rows dropped under ``on_bad_rows="drop"``; empty otherwise.
    rows_outside : int
        Rows cut by the ``until``/``since`` bounds (e.g. the held-out test window).
    """

    minutes: pd.DataFrame
    rows_read: int
    rows_dropped: dict[str, int] = field(default_factory=dict)
    rows_outside: int = 0


@without_huge_pages()
def read_minutes(
    path: str | Path,
    tz: str = MARKET_TZ,
    on_bad_rows: str = "error",
    until: dt.date | None = None,
    since: dt.date | None = None,
    exclude: Sequence[tuple[dt.date, dt.date]] = (),
    max_bad_share: float = DEFAULT_MAX_BAD_SHARE,
) -> MinuteFile:
    """Read a 1-minute OHLCV file into the minute-frame contract.

    Parameters
    ----------
    path : str or Path
        ``.txt``/``.csv`` (FirstRate headerless, or named columns) or ``.parquet``.
    tz : str, default "America/New_York"
        IANA zone in which *naive* stamps are read. Stamps with an offset ignore it.
    on_bad_rows : {"error", "drop"}
        ``"error"`` raises :class:`DataError` naming the file, line, value and rule of the first
        bad rows; ``"drop"`` removes them and counts them in ``MinuteFile.rows_dropped``.
    until : date, optional
        Keep only minutes whose ET date is strictly before this date. Jobs pass the test
        window's first day so held-out rows are never checked, kept or returned.
    since : date, optional
        Keep only minutes whose ET date is on or after this date.
    exclude : sequence of (date, date)
        Inclusive ranges of ET dates to leave out (sealed test ranges). Like ``until``, their
        lines are skipped unparsed wherever the stamp's own text settles it; lines within a day
        of a boundary whose stamps carry an offset (or are read in a zone other than ET) are
        parsed and then cut by their *instant* in exchange time, before any check looks at them.
    max_bad_share : float, default 0.01
        With ``on_bad_rows="drop"``: the largest share of the rows read that may be dropped;
        more is refused with the count and the likely cause (a misread file, not a few bad rows).

    NumPy's huge-page advice is off for the call (:func:`lab.memory.without_huge_pages`).

    Raises
    ------
    DataError
        The file is missing, empty, has unknown columns or unparsable values, or breaks an
        integrity rule (with ``on_bad_rows="error"``).
    """
    path = Path(path)
    if not path.is_file():
        where = " (nor in data/raw/)" if path.name == str(path) else ""
        what = "is a folder, not a minute file" if path.is_dir() else f"does not exist{where}"
        raise DataError(f"minute file {str(path)!r} {what}; set [data] path in lab.toml or pass "
                        "-P data=<file> (a bare file name is looked up in data/raw/)")
    if on_bad_rows not in ("error", "drop"):
        raise DataError(f"on_bad_rows = {on_bad_rows!r}: use 'error' or 'drop'")
    kind = sniff_format(path)
    if kind in ("zip", "gzip"):
        with _decompressed(path, kind) as (plain, shown):
            try:
                return read_minutes(plain, tz, on_bad_rows, until, since, exclude, max_bad_share)
            except DataError as exc:
                raise DataError(str(exc).replace(str(plain), shown)) from None
    if kind == "parquet" and path.suffix.lower() not in (".parquet", ".pq"):
        raise DataError(f"{path}: a Parquet file under another name; rename it to {path.stem}.parquet")
    cuts = _cut_ranges(until, since, exclude)
    if path.suffix.lower() in (".parquet", ".pq"):
        raw, first_line, skipped, known_lines = _read_parquet(path), 1, 0, None
    else:
        raw, first_line, skipped, known_lines = _read_text(path, on_bad_rows, cuts, exact_zone=(tz == MARKET_TZ))
    rows_read = raw.num_rows if isinstance(raw, pa.Table) else len(raw) + int(raw.attrs.get("unparsable_dropped", 0))
    frame = raw.to_pandas() if isinstance(raw, pa.Table) else raw
    if not isinstance(raw, pa.Table):
        known_lines = frame.attrs.get("line_numbers")
    lines = FileLines(first_line, known_lines if known_lines is not None and len(known_lines) == len(frame) else None)
    unparsable_dropped = int(frame.attrs.get("unparsable_dropped", 0))
    frame.attrs = {}
    bad = BadRows(path=str(path))
    stamps = _to_market_time(frame["time"], tz, lines, bad)
    naive_et = tz == MARKET_TZ and pd.api.types.is_datetime64_dtype(frame["time"])  # their own wall clock is ET's
    keep = _outside_cuts(stamps, cuts, epoch_ns(frame["time"]) if naive_et else None)
    outside = int(len(frame) - keep.sum()) + skipped
    if outside > skipped:
        frame, stamps, lines = frame.loc[keep].reset_index(drop=True), stamps[keep], lines.kept(keep)
    frame = frame.drop(columns="time")
    frame.index = stamps
    frame.index.name = "time"
    if frame.empty and outside and not bad.found:  # every row lies outside the bounds: nothing to check
        return MinuteFile(minutes=frame, rows_read=rows_read, rows_dropped={}, rows_outside=outside)
    frame, dropped = check_minutes(frame, bad, on_bad_rows, max_bad_share, unparsable_dropped, lines)
    if unparsable_dropped:
        dropped = {"unparsable line": unparsable_dropped, **dropped}
    return MinuteFile(minutes=frame, rows_read=rows_read, rows_dropped=dropped, rows_outside=outside)


_FAR_PAST, _FAR_FUTURE = dt.date(1, 1, 1), dt.date(9999, 12, 31)


def _cut_ranges(until: dt.date | None, since: dt.date | None,
                exclude: Sequence[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Every inclusive range of ET dates not to be read."""
    cuts = [(start, end) for start, end in exclude if start <= end]
    if until is not None:
        cuts.append((until, _FAR_FUTURE))
    if since is not None and since > _FAR_PAST:
        cuts.append((_FAR_PAST, since - dt.timedelta(days=1)))
    return cuts


def _outside_cuts(stamps: pd.DatetimeIndex, cuts: list[tuple[dt.date, dt.date]],
                  wall_ns: np.ndarray | None = None) -> np.ndarray:
    """True for stamps whose ET date is outside every cut (unparsed stamps are kept: they are reported).

    The cuts compare instants in exchange time, not the stamps' own date text; ``wall_ns`` (optional)
    is each stamp's ET wall clock in ns when the file's naive stamps were read in ET (saves a conversion).
    """
    keep = np.ones(len(stamps), dtype=bool)
    if not cuts or not len(stamps):
        return keep
    known = np.asarray(stamps.notna())
    local = np.asarray(stamps.tz_convert(MARKET_TZ).tz_localize(None).asi8) if wall_ns is None else wall_ns
    for start, end in cuts:
        # The ET date lies in start..end when the wall clock lies in [start 00:00, the day after end 00:00).
        inside = known.copy() if start <= _FAR_PAST else (local >= pd.Timestamp(max(start, dt.date(1677, 9, 22))).value)
        if end < _FAR_FUTURE:
            inside &= local < pd.Timestamp(min(end, dt.date(2262, 4, 10)) + dt.timedelta(days=1)).value
        keep &= ~(known & inside)
    return keep


# -- compressed and unknown files -------------------------------------------------------------

_MAGIC = {b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip", b"PAR1": "parquet"}


def sniff_format(path: Path) -> str:
    """What a file holds, from its first bytes: ``zip``, ``gzip``, ``parquet``, ``text`` or ``empty``.

    Raises
    ------
    DataError
        One line when the file is binary and none of these (e.g. an Excel workbook or a 7z archive).
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        return "empty"
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head) / len(head)
    if b"\x00" in head or printable < 0.95:
        raise DataError(
            f"{path}: not a minute file this lab reads (a binary file starting with bytes {head[:8].hex(' ')}); "
            "expected a FirstRate .txt/.csv (or a .zip/.gz of one) or Parquet"
        )
    return "text"


@contextlib.contextmanager
def _decompressed(path: Path, kind: str):
    """Yield ``(plain text file, name to show)``: the .gz or the one text member of a .zip, unpacked
    into a temporary folder that is removed afterwards (the reader needs a seekable file to map)."""
    with tempfile.TemporaryDirectory(prefix="lab-minutes-") as folder:
        if kind == "gzip":
            shown = str(path)
            plain = Path(folder) / (path.stem if path.suffix.lower() == ".gz" else path.name)
            try:
                with gzip.open(path, "rb") as source, plain.open("wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
            except (OSError, EOFError) as exc:
                raise DataError(f"{path}: a damaged gzip file ({exc}); download it again") from None
        else:
            try:
                archive = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise DataError(f"{path}: a damaged zip archive ({exc}); download it again") from None
            with archive:
                members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
                texts = [m for m in members if m.filename.lower().endswith((".txt", ".csv"))] or members
                if len(texts) != 1:
                    names = ", ".join(m.filename for m in texts[:5]) or "nothing"
                    raise DataError(f"{path}: the archive holds {names}; expected exactly one .txt/.csv minute file: "
                                    "unpack the one you want and pass its path")
                member = texts[0]
                shown = f"{path}!{member.filename}"
                plain = Path(folder) / Path(member.filename).name
                with archive.open(member) as source, plain.open("wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
        if sniff_format(plain) in ("zip", "gzip"):
            raise DataError(f"{shown}: an archive inside an archive; unpack the outer one first")
        yield plain, shown


# -- text -----------------------------------------------------------------------------------


def _first_line_at(data: mmap.mmap, day: dt.date, body_start: int) -> int:
    """Byte offset of the first line whose leading ``YYYY-MM-DD`` is on or after ``day`` (binary search,
    assuming time order: only the first 10 bytes of ~25 lines are looked at)."""
    key = day.isoformat().encode() if day < _FAR_FUTURE else b"9999-12-32"

    def line_start(pos: int) -> int:
        return max(data.rfind(b"\n", body_start, pos) + 1, body_start) if pos > body_start else body_start

    lo, hi = body_start, len(data)
    while lo < hi:
        mid = (lo + hi) // 2
        start = line_start(mid)
        if data[start : start + 10] >= key:
            hi = mid
        else:
            lo = mid + 1
    return line_start(lo) if lo < len(data) else len(data)


def _date_words(day: dt.date) -> tuple[int, int]:
    """``YYYY-MM-DD`` as the big-endian integers of its bytes 0-7 and 8-9 (they order as the dates do)."""
    text = day.isoformat().encode()
    return int.from_bytes(text[:8], "big"), int.from_bytes(text[8:10], "big")


_DIGITS8 = 0xFFFFFFFF00FFFF00  # bytes 0-3 and 5-6 of 'YYYY-MM-': the digits; bytes 4 and 7 the dashes
_DASHES8 = 0x000000002D00002D


def _all_digits(word: np.ndarray, mask: int) -> np.ndarray:
    """Whether every byte of ``word`` (big-endian unsigned integers) under ``mask`` is an ASCII digit."""
    kind = word.dtype.type
    x = (word ^ kind(0x3030303030303030 & mask)) & kind(mask)  # a digit becomes 0x00..0x09
    high, six = kind(0xF0F0F0F0F0F0F0F0 & mask), kind(0x0606060606060606 & mask)
    return ((x & high) == 0) & (((x + six) & high) == 0)  # no high nibble, and low nibble + 6 stays below 16


def _block_dates(data: mmap.mmap, a: int, b: int, limit: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per line starting in bytes ``a..b``: dated?, the big-endian words of its bytes 0-7 and 8-9 (see
    :func:`_date_words`), an offset after the seconds?

    ``limit`` (default ``b``): where the bytes a line may be read from end; a piece of a longer block
    passes the block's end, so a line's answer does not depend on where the block was cut into pieces.
    Bytes 0-9 and 19 of each line are read with three gathers (8, 2 and 1 bytes, through views of the
    block at every byte offset) and checked as whole words, a few numpy passes over the lines.
    """
    limit = b if limit is None else limit
    if b <= a:  # no line starts in an empty range
        none = np.zeros(0, dtype=np.uint64)
        return np.zeros(0, dtype=bool), none, none.astype(np.uint16), np.zeros(0, dtype=bool)
    block = np.frombuffer(data, dtype=np.uint8, count=min(b + 20, limit) - a, offset=a)
    newlines = np.flatnonzero(block[: b - a - 1] == 10)
    starts = np.empty(len(newlines) + 1, dtype=np.int64)
    starts[0] = 0
    np.add(newlines, 1, out=starts[1:])
    room = starts + 19 < limit - a  # 'YYYY-MM-DD HH:MM:SS' and the byte after it
    if not room.any():
        del block
        none = np.zeros(len(starts), dtype=np.uint64)
        return room, none, none.astype(np.uint16), room.copy()
    at = np.where(room, starts, 0)  # a line too short is read at 0 and marked undated
    head = np.ndarray((len(block) - 7,), dtype=">u8", buffer=block, strides=(1,))[at].astype(np.uint64)
    day = np.ndarray((len(block) - 1,), dtype=">u2", buffer=block, strides=(1,))[at + 8].astype(np.uint16)
    after_seconds = block[at + 19]
    del block
    dated = (room & _all_digits(head, _DIGITS8) & ((head & np.uint64(~_DIGITS8 & (2**64 - 1))) == np.uint64(_DASHES8))
             & _all_digits(day, 0xFFFF))
    offset = dated & (after_seconds != ord(","))  # anything but the comma after HH:MM:SS may be an offset
    return dated, head, day, offset


def _inside(head: np.ndarray, day: np.ndarray, lo: dt.date, hi: dt.date) -> np.ndarray:
    """Whether the date words of :func:`_block_dates` lie in ``lo..hi`` (inclusive)."""
    (lo8, lo2), (hi8, hi2) = _date_words(lo), _date_words(hi)
    lo8, hi8, lo2, hi2 = np.uint64(lo8), np.uint64(hi8), np.uint16(lo2), np.uint16(hi2)
    return (((head > lo8) | ((head == lo8) & (day >= lo2))) & ((head < hi8) | ((head == hi8) & (day <= hi2))))


#: Bytes of a held-out range checked at once: the checks' arrays stay a few MB and are reused,
#: instead of ~60 MB of fresh memory for a 30 MB range (fresh pages cost the kernel more than the checks).
_PIECE_BYTES = 2 << 20


def _dated_inside(data: mmap.mmap, a: int, b: int, lo: dt.date, hi: dt.date) -> tuple[int, bool] | None:
    """The lines of bytes ``a..b`` (``b`` a line start or the end), checked piece by piece: their count
    and whether one may carry an offset after the seconds; None when a line is not dated in ``lo..hi``."""
    count, any_offset, p = 0, False, a
    while p < b:
        q = b if b - p <= _PIECE_BYTES else data.find(b"\n", p + _PIECE_BYTES, b) + 1 or b
        dated, head, day, offset = _block_dates(data, p, q, limit=b)
        if not (dated & _inside(head, day, lo, hi)).all():
            return None
        count += len(dated)
        any_offset = any_offset or bool(offset.any())
        p = q
    return count, any_offset


def _sorted_skips(data: mmap.mmap, body_start: int, cuts: list[tuple[dt.date, dt.date]], exact_zone: bool,
                  lines: dict[tuple[int, int], int] | None = None) -> list[tuple[int, int]] | None:
    """Byte ranges to skip unparsed, found by binary search in a file in time order; ``None`` when a
    range to skip holds a line that is not dated inside its cut (out of order, or undated).
    ``lines`` (optional) receives the number of lines of each range checked, by its ``(start, end)``.

    Exact for naive stamps read in exchange time. Otherwise (an offset in a skipped line, or
    another zone) each cut is narrowed by a day on both sides: those lines are parsed and cut by
    their instant.
    """
    for margin in ((0, 1) if exact_zone else (1,)):
        skips, retry = [], False
        for start, end in cuts:
            lo = start + dt.timedelta(days=margin) if start > _FAR_PAST else start
            hi = end - dt.timedelta(days=margin) if end < _FAR_FUTURE else end
            if lo > hi:
                continue
            a = _first_line_at(data, lo, body_start)
            b = len(data) if hi >= _FAR_FUTURE else _first_line_at(data, hi + dt.timedelta(days=1), body_start)
            if a >= b:
                continue
            checked = _dated_inside(data, a, b, lo, hi)
            if checked is None:
                return None
            count, any_offset = checked
            if lines is not None:
                lines[(a, b)] = count  # one entry per line of the range
            if margin == 0 and any_offset:
                retry = True
                break
            skips.append((a, b))
        if not retry:
            merged: list[tuple[int, int]] = []
            for a, b in sorted(skips):
                if merged and a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
                else:
                    merged.append((a, b))
            return merged
    return None


def _line_plan(data: mmap.mmap, body_start: int, cuts: list[tuple[dt.date, dt.date]], exact_zone: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which lines to parse: one vectorized pass over the lines' leading ``YYYY-MM-DD`` (~0.2 s for 120 MB).

    A line is skipped unparsed when its date text alone proves its instant lies inside a cut.
    That is exact for naive ``YYYY-MM-DD HH:MM:SS`` stamps read in exchange time; otherwise (an
    offset, ``Z``, another zone) the ET date may differ from the text by a day, so lines within a
    day of a cut's boundary are parsed and cut later by their instant. Undated lines are parsed
    (and reported). No time order is assumed.

    Returns
    -------
    (starts, ends, keep)
        Byte offsets of each body line (``ends`` past its newline) and whether to parse it.
    """
    body = np.frombuffer(data, dtype=np.uint8, offset=body_start)
    size = len(body)
    newlines = np.flatnonzero(body == 10)
    starts = np.r_[0, newlines + 1]
    ends = np.r_[newlines + 1, size]
    real = starts < size
    starts, ends = starts[real], ends[real]
    keep = np.ones(len(starts), dtype=bool)
    dated = np.zeros(len(starts), dtype=bool)
    key = np.zeros(len(starts), dtype=np.int64)
    offset = np.zeros(len(starts), dtype=bool)
    width, block = 40, 100_000  # the date, the time, room for fractional seconds and an offset; lines per pass
    for first in range(0, len(starts), block):
        part = slice(first, first + block)
        positions = starts[part, None] + np.arange(width)
        head = body[np.minimum(positions, size - 1)]
        head[positions >= ends[part, None]] = 0  # bytes of the next line are not this line's
        digits = head[:, [0, 1, 2, 3, 5, 6, 8, 9]].astype(np.int64) - ord("0")
        dated[part] = (((digits >= 0) & (digits <= 9)).all(axis=1) & (head[:, 4] == ord("-"))
                       & (head[:, 7] == ord("-")))
        key[part] = digits @ np.array([10**7, 10**6, 10**5, 10**4, 1000, 100, 10, 1], dtype=np.int64)
        # An offset (+hh:mm, -hh:mm, Z) after the seconds, before the first comma: the date text may not be ET's.
        tail = head[:, 19:]
        before_comma = np.cumsum(tail == ord(","), axis=1) == 0
        offset[part] = (before_comma & ((tail == ord("+")) | (tail == ord("-")) | (tail == ord("Z")))).any(axis=1)
        del head, tail
    naive_exchange = exact_zone and not bool((offset & dated).any())
    margin = dt.timedelta(days=0 if naive_exchange else 1)
    for start, end in cuts:
        lo = start + margin if start > _FAR_PAST else start
        hi = end - margin if end < _FAR_FUTURE else end
        if lo > hi:
            continue
        lo_key, hi_key = lo.year * 10000 + lo.month * 100 + lo.day, hi.year * 10000 + hi.month * 100 + hi.day
        keep &= ~(dated & (key >= lo_key) & (key <= hi_key))
    del body  # release the view before the map closes
    return starts + body_start, ends + body_start, keep


def _read_text(path: Path, on_bad_rows: str, cuts: list[tuple[dt.date, dt.date]] = (), exact_zone: bool = True
               ) -> tuple[pa.Table | pd.DataFrame, int, int, np.ndarray | None]:
    """Parse the lines outside ``cuts``; returns the table, its first line number, the lines skipped
    unread and, when lines were skipped, the file line number of every parsed row."""
    with path.open("rb") as handle:
        raw_head = handle.readline()
    bom = len(_BOM) if raw_head.startswith(_BOM) else 0  # a UTF-8 byte-order mark (Excel writes one): ignored
    head = raw_head[bom:].decode("utf-8", errors="replace").strip()
    if not head:
        raise DataError(f"{path}: the file is empty; expected lines like '2023-01-03 09:30:00,3850.25,3851,3849.5,3850.75,1234'")
    has_header = not head[:1].isdigit()
    delimiter = ","
    if has_header:
        delimiter = _delimiter(head)
        names = _header_names(head, delimiter)
        mapping = _column_mapping(names, path)
        read_options = pacsv.ReadOptions(skip_rows=1, column_names=names)
        first_line = 2
    else:
        fields = head.split(",")
        if len(fields) != 6:
            raise DataError(
                f"{path} line 1: expected 6 comma-separated fields "
                f"(time,open,high,low,close,volume) in a headerless FirstRate file, got {len(fields)}: {head[:80]!r}"
            )
        names = ["time", *COLUMNS]
        mapping = {n: n for n in names}
        read_options = pacsv.ReadOptions(column_names=names)
        first_line = 1
    types = {src: (pa.float64() if dst in PRICE_COLUMNS else pa.int64() if dst in _VOLUME_ROLES else pa.string())
             for src, dst in mapping.items() if dst != "time"}
    time_src = next(src for src, dst in mapping.items() if dst in ("time", "date"))
    parse_options = pacsv.ParseOptions(delimiter=delimiter)
    table = None
    skipped, line_numbers = 0, None
    # Fast path: naive stamps parsed by pyarrow (ns, one resolution everywhere); then stamps
    # with offsets as text for pandas; then a line-by-line read that names the bad line.
    with path.open("rb") as handle:
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            body_start = data.find(b"\n") + 1 if has_header else bom
            skips, counted = None, {}
            if cuts and time_src == names[0] and body_start < len(data):
                skips = _sorted_skips(data, body_start, cuts, exact_zone, counted)
                if skips is None:  # not in time order (or undated lines in a cut): one pass over every line
                    starts, ends, keep = _line_plan(data, body_start, cuts, exact_zone)
                    change = np.flatnonzero(np.diff(np.r_[1, keep.astype(np.int8), 1]))
                    skips = [(int(starts[a]), int(ends[b - 1])) for a, b in change.reshape(-1, 2)]
            content: bytes | pa.Buffer | None = None  # None: the whole file
            if skips and len(skips) == 1 and skips[0][1] == len(data):
                # One held-out range to the end (the usual test window): the lines before it, unsplit and uncopied.
                content = pa.memory_map(str(path)).read_buffer(skips[0][0])
                skipped = counted.get(skips[0], -1)  # the date check counted its lines
                if skipped < 0:
                    gap = np.frombuffer(data, dtype=np.uint8, offset=skips[0][0])
                    skipped = int(np.count_nonzero(gap == 10)) + (1 if len(gap) and gap[-1] != 10 else 0)
                    del gap
            elif skips:
                numbered = len(skips) > 1 or skips[0][1] < len(data)  # a gap with lines after it
                pieces, numbers, line, at = [data[:body_start]], [], first_line, body_start
                for a, b in skips + [(len(data), len(data))]:
                    piece = data[at:a]
                    pieces.append(piece + (b"\n" if piece and not piece.endswith(b"\n") else b""))
                    if numbered:
                        count = piece.count(b"\n") + (1 if piece and not piece.endswith(b"\n") else 0)
                        numbers.append(np.arange(line, line + count, dtype=np.int64))
                        line += count
                    gap = np.frombuffer(data, dtype=np.uint8, count=b - a, offset=a)
                    gap_lines = int(np.count_nonzero(gap == 10)) + (1 if b > a and gap[-1] != 10 else 0)
                    del gap
                    skipped += gap_lines
                    line += gap_lines
                    at = b
                content = b"".join(pieces)
                line_numbers = np.concatenate(numbers) if numbered else None
    prefix = (pa.memory_map(str(path)).read_buffer() if content is None else
              content if isinstance(content, pa.Buffer) else pa.py_buffer(content))
    time_types = (pa.timestamp("ns"), pa.string()) if mapping[time_src] == "time" else (pa.string(),)
    for time_type in time_types:
        convert = pacsv.ConvertOptions(column_types={**types, time_src: time_type}, include_columns=list(mapping))
        try:
            table = pacsv.read_csv(pa.BufferReader(prefix), read_options=read_options, parse_options=parse_options,
                                   convert_options=convert)
            break
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            continue
    if table is None:
        lenient = _read_text_lenient(path, prefix.to_pybytes(), names, mapping, has_header, on_bad_rows, line_numbers,
                                     delimiter)
        return lenient, first_line, skipped, None
    table = _standard_columns({mapping[c]: table.column(c) for c in table.column_names})
    return table, first_line, skipped, line_numbers


def _read_text_lenient(path: Path, content: bytes, names: list[str], mapping: dict[str, str], has_header: bool,
                       on_bad_rows: str, line_numbers: np.ndarray | None = None, delimiter: str = ",") -> pd.DataFrame:
    """Read ``content`` (the file, or its lines outside the held-out ranges) as strings, then name the
    first unparsable line (or drop such lines). ``line_numbers`` gives the file line of each non-blank
    line of ``content`` when lines were cut out of it."""
    first_line = 2 if has_header else 1
    lines = content.decode("utf-8-sig", errors="replace").splitlines()[first_line - 1 :]
    numbers = list(range(first_line, first_line + len(lines)))
    if line_numbers is not None:
        lines = [line for line in lines if line.strip()]
        numbers = [int(n) for n in line_numbers[: len(lines)]] + list(range(len(line_numbers), len(lines)))
    width = len(names)
    rows, line_numbers, bad = [], [], []
    for number, text in zip(numbers, lines):
        if not text.strip():
            bad.append((number, text, "blank line"))
            continue
        parts = text.split(delimiter)
        if len(parts) != width:
            bad.append((number, text, f"{len(parts)} fields instead of {width}"))
            continue
        rows.append(parts)
        line_numbers.append(number)
    frame = pd.DataFrame(rows, columns=names)[list(mapping)].rename(columns=mapping)
    for column in [c for c in (*PRICE_COLUMNS, *_VOLUME_ROLES) if c in frame.columns]:
        values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
        for pos in np.flatnonzero(values.isna().to_numpy()):
            bad.append((line_numbers[pos], delimiter.join(rows[pos]), f"{column} {frame[column].iat[pos]!r} is not a number"))
        frame[column] = values
    if "date" in frame.columns:
        stamps = frame["date"].str.strip() + " " + frame["clock"].str.strip()
        frame["time"] = _stamps_from_text(pa.array(stamps, pa.string())).to_pandas()
    elif not _looks_iso(frame["time"]):
        frame["time"] = _stamps_from_text(pa.array(frame["time"].str.strip(), pa.string())).to_pandas()
    if "volume" not in frame.columns:
        frame["volume"] = frame["up"] + frame["down"]
    if bad:
        bad.sort()
        if on_bad_rows == "error":
            shown = "; ".join(f"line {n}: {why} ({text[:60]!r})" for n, text, why in bad[:3])
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise DataError(
                f"{path}: unparsable rows: {shown}{more}. Fix the file or rerun with --on-bad-rows drop"
            )
        bad_lines = {n for n, _, _ in bad}
        keep = np.array([n not in bad_lines for n in line_numbers], dtype=bool)
        frame = frame.loc[keep].reset_index(drop=True)
        frame.attrs["unparsable_dropped"] = len(bad)
    frame["volume"] = frame["volume"].astype("float64")
    frac = frame["volume"] % 1 != 0
    if frac.any():
        frame.loc[frac, "volume"] = np.nan  # reported by the integrity check
    frame.attrs["first_line"] = first_line
    frame.attrs["line_numbers"] = np.asarray(line_numbers, dtype=np.int64)[keep] if bad else np.asarray(line_numbers, dtype=np.int64)
    return frame[["time", *COLUMNS]]


_BOM = b"\xef\xbb\xbf"
_VOLUME_ROLES = ("volume", "up", "down")
#: Header names (lower case, without spaces, underscores, dots, dashes, quotes or <>) -> role.
_HEADER_ROLES = {
    **dict.fromkeys(("timestamp", "datetime", "ts", "gmttime", "localtime", "barstart", "timeet"), "time"),
    "date": "date", "day": "date", "tradedate": "date",
    "time": "clock", "clock": "clock",
    **dict.fromkeys(("open", "o", "openprice", "first"), "open"),
    **dict.fromkeys(("high", "h", "highprice", "max"), "high"),
    **dict.fromkeys(("low", "l", "lowprice", "min"), "low"),
    **dict.fromkeys(("close", "c", "last", "closeprice", "lastprice"), "close"),
    **dict.fromkeys(("volume", "vol", "v", "totalvolume", "totalvol"), "volume"),
    **dict.fromkeys(("up", "upvolume", "upvol"), "up"),
    **dict.fromkeys(("down", "downvolume", "downvol"), "down"),
}
#: Date and time-of-day layouts vendors write, tried on a sample of the stamps (first match wins a tie).
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y%m%d", "%Y/%m/%d", "%d.%m.%Y", "%Y.%m.%d", "%m/%d/%y",
                 "%m-%d-%Y", "%d-%m-%Y")
_CLOCK_FORMATS = ("%H:%M:%S", "%H:%M", "%H%M%S", "%H%M", "%H:%M:%S.%f")


def _delimiter(head: str) -> str:
    """The header line's separator: comma, semicolon or tab, whichever it holds most of."""
    counts = {sep: head.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def _header_names(head: str, delimiter: str) -> list[str]:
    """Normalised, unique column names of a header line (an empty or repeated name gets ``_<k>``)."""
    names: list[str] = []
    for k, raw in enumerate(head.split(delimiter)):
        name = raw.strip().strip('"').strip("'").strip().lower()
        name = name.strip("<>")
        name = "".join(ch for ch in name if ch not in " _.-<>")
        names.append(name if name and name not in names else f"_{k}")
    return names


def _column_mapping(names: list[str], path: Path) -> dict[str, str]:
    """``column name -> role`` (time, or date and clock; open, high, low, close; volume, or up and down)."""
    mapping: dict[str, str] = {}
    for name in names:
        role = _HEADER_ROLES.get(name)
        if role is not None and role not in mapping.values():
            mapping[name] = role
    roles = set(mapping.values())
    if "time" not in roles and ("date" in roles) != ("clock" in roles):
        # one stamp column named date or time holds the whole stamp
        only = next(name for name, role in mapping.items() if role in ("date", "clock"))
        mapping[only] = "time"
    elif "time" in roles:
        mapping = {name: role for name, role in mapping.items() if role not in ("date", "clock")}
    if "volume" in roles:
        mapping = {name: role for name, role in mapping.items() if role not in ("up", "down")}
    elif {"up", "down"} <= roles:
        pass  # TradeStation's split: volume = up + down
    roles = set(mapping.values())
    missing = [c for c in PRICE_COLUMNS if c not in roles]
    if "time" not in roles and not {"date", "clock"} <= roles:
        missing.insert(0, "time")
    if "volume" not in roles and not {"up", "down"} <= roles:
        missing.append("volume")
    if missing:
        raise DataError(
            f"{path} line 1: header {names} lacks column(s) {missing}; expected a time stamp (time, timestamp, "
            "datetime, or date and time in two columns), open, high, low, close (or last), volume (or up and "
            "down, summed) in any order and any case, separated by commas, semicolons or tabs"
        )
    return mapping


def _looks_iso(text: pd.Series) -> bool:
    """Whether the first stamp starts like ``YYYY-MM-DD`` (the ISO 8601 parser's business)."""
    first = text.dropna()
    return first.empty or bool(pd.Series(first.iloc[:1]).str.match(r"\s*\d{4}-\d\d-\d\d").iloc[0])


def _stamps_from_text(text: pa.Array) -> pa.Array:
    """Naive stamps from text in the vendor layout that parses the most of them.

    Returns a ``timestamp[ns]`` array when every stamp parses with one layout of
    :data:`_DATE_FORMATS` and :data:`_CLOCK_FORMATS` (date, a space, time of day), else strings:
    ISO 8601 where that layout parsed, the original text elsewhere (reported as a bad row).
    """
    text = pc.utf8_trim_whitespace(text)
    valid = text.drop_null()
    if len(valid) == 0:
        return text
    sample = valid.take(np.linspace(0, len(valid) - 1, min(len(valid), 2000)).astype(np.int64))
    layouts = [f"{d} {c}" for d in _DATE_FORMATS for c in _CLOCK_FORMATS]
    misses = {f: pc.strptime(sample, format=f, unit="ns", error_is_null=True).null_count for f in layouts}
    fewest = min(misses.values())
    if fewest == len(sample):
        return text
    best, best_nulls = None, None
    for layout in (f for f in layouts if misses[f] == fewest):  # a tie on the sample (e.g. m/d and d/m): whole column
        parsed = pc.strptime(text, format=layout, unit="ns", error_is_null=True)
        if best is None or parsed.null_count < best_nulls:
            best, best_nulls = parsed, parsed.null_count
        if best_nulls == text.null_count:
            break
    if best_nulls == 0:
        return best
    iso = pc.strftime(best, format="%Y-%m-%dT%H:%M:%S")
    return pc.if_else(pc.is_null(best), text, iso)


def _standard_columns(columns: dict[str, pa.ChunkedArray]) -> pa.Table:
    """The reader's table (time, open, high, low, close, volume) from the columns by role."""
    if "date" in columns:
        joined = pc.binary_join_element_wise(pc.utf8_trim_whitespace(columns["date"]),
                                             pc.utf8_trim_whitespace(columns["clock"]), " ")
        columns["time"] = _stamps_from_text(joined.combine_chunks())
    elif pa.types.is_string(columns["time"].type):
        sample = columns["time"].slice(0, 1).to_pandas()
        if not _looks_iso(sample):
            columns["time"] = _stamps_from_text(columns["time"].combine_chunks())
    if "volume" not in columns:
        columns["volume"] = pc.add(columns["up"], columns["down"])
    return pa.table({name: columns[name] for name in ("time", *COLUMNS)})


# -- parquet --------------------------------------------------------------------------------


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.reset_index()
    frame.columns = _header_names(",".join(str(c).replace(",", " ") for c in frame.columns), ",")
    mapping = _column_mapping(list(frame.columns), path)
    frame = frame[list(mapping)].rename(columns=mapping)
    for column in (*PRICE_COLUMNS, *_VOLUME_ROLES):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if "date" in frame.columns:
        stamps = frame["date"].astype("string").str.strip() + " " + frame["clock"].astype("string").str.strip()
        frame["time"] = _stamps_from_text(pa.array(stamps.astype(object), pa.string())).to_pandas()
    if "volume" not in frame.columns:
        frame["volume"] = frame["up"] + frame["down"]
    return frame[["time", *COLUMNS]]


# -- time -----------------------------------------------------------------------------------


def _to_market_time(stamps: pd.Series, tz: str, lines: FileLines, bad: BadRows) -> pd.DatetimeIndex:
    """Parse stamps and express them in America/New_York, DST-safe; unparsable -> NaT + bad row."""
    if not (pd.api.types.is_string_dtype(stamps) or stamps.dtype == object):
        index = pd.DatetimeIndex(stamps)
        if index.tz is not None:
            return index.tz_convert(MARKET_TZ).as_unit("ns")
        return _localize(in_ns(index), tz, lines, bad).tz_convert(MARKET_TZ)
    text = stamps.astype("string").str.strip()
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False).to_numpy()
    naive = pd.DatetimeIndex(pd.to_datetime(text.where(~has_offset), format="ISO8601", errors="coerce")).as_unit("ns")
    utc_ns = _localize(naive, tz, lines, bad).asi8.copy()
    if has_offset.any():
        aware = pd.DatetimeIndex(pd.to_datetime(text.where(has_offset), format="ISO8601", errors="coerce", utc=True))
        utc_ns[has_offset] = aware.as_unit("ns").asi8[has_offset]
    result = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(MARKET_TZ)
    unparsable = np.asarray(result.isna()) & (has_offset | np.asarray(naive.isna()))
    for pos in np.flatnonzero(unparsable):
        bad.add("time is not a date-time", lines[pos], stamps.iat[pos])
    return result


def _localize(naive: pd.DatetimeIndex, tz: str, lines: FileLines, bad: BadRows) -> pd.DatetimeIndex:
    """Localize naive wall-clock stamps, resolving the repeated autumn hour by file order."""
    by_hour = _localize_by_hour(naive, tz)
    if by_hour is not None:
        return by_hour
    try:
        return naive.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except (ValueError, Exception):  # pytz/zoneinfo raise different subclasses
        pass
    every_dst = np.ones(len(naive), dtype=bool)
    nonexistent = np.asarray(naive.tz_localize(tz, ambiguous=every_dst, nonexistent="NaT").isna()) & np.asarray(naive.notna())
    ambiguous_mask = _ambiguous_mask(naive, tz) & ~nonexistent
    for pos in np.flatnonzero(nonexistent):
        bad.add("time falls in the hour skipped by the spring DST change", lines[pos], str(naive[pos]))
    # In the repeated hour the first pass is daylight time; once the clock goes back, standard.
    is_dst = np.zeros(len(naive), dtype=bool)
    if ambiguous_mask.any():
        positions = np.flatnonzero(ambiguous_mask)
        values = naive.asi8[positions]
        days = values // (86_400 * 10**9)
        for day in np.unique(days):
            sel = positions[days == day]
            vals = naive.asi8[sel]
            previous_max = np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], vals[:-1])))
            second_pass = np.logical_or.accumulate(vals <= previous_max)
            is_dst[sel] = ~second_pass
    return naive.tz_localize(tz, ambiguous=is_dst, nonexistent="NaT")


_NS_HOUR = 3_600 * 10**9


def _localize_by_hour(naive: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex | None:
    """``naive.tz_localize(tz)`` from the UTC offset of every wall-clock hour between the first and the
    last stamp (one localisation of ~40 K hours instead of ~1.6 M minutes: a third of the time).

    None (the caller localizes stamp by stamp) when a stamp is NaT, when the hours would outnumber the
    stamps, or when a stamp falls in an hour without one offset from its first to its last nanosecond:
    a clock change inside it (the repeated autumn hour, the skipped spring hour, a zone that changes
    off the hour).
    """
    values = naive.asi8
    if not len(values) or naive.hasnans:
        return None
    lo, hi = int(values.min()) // _NS_HOUR, int(values.max()) // _NS_HOUR
    if hi - lo + 1 > 4 * len(values) + 1_000:
        return None
    first = (lo + np.arange(hi - lo + 1, dtype=np.int64)) * _NS_HOUR
    at_first = pd.DatetimeIndex(first.view("datetime64[ns]")).tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    at_last = pd.DatetimeIndex((first + _NS_HOUR - 1).view("datetime64[ns]")).tz_localize(
        tz, ambiguous="NaT", nonexistent="NaT")
    shift = at_first.asi8 - first  # UTC minus wall clock, ns
    changing = np.asarray(at_first.isna() | at_last.isna()) | (shift != at_last.asi8 - (first + _NS_HOUR - 1))
    check = bool(changing.any())
    utc = np.empty_like(values)
    # in pieces (lab.memory.PIECE_ROWS): the hour numbers stay small and are reused
    for a in range(0, len(values), _LOCALIZE_ROWS):
        hour = values[a:a + _LOCALIZE_ROWS] // _NS_HOUR
        hour -= lo
        if check and changing[hour].any():
            return None
        part = utc[a:a + _LOCALIZE_ROWS]
        np.take(shift, hour, out=part)
        part += values[a:a + _LOCALIZE_ROWS]
    return pd.DatetimeIndex(utc, dtype=pd.DatetimeTZDtype("ns", tz), copy=False)  # integers: UTC instants


#: Stamps :func:`_localize_by_hour` works on at once.
_LOCALIZE_ROWS = PIECE_ROWS


def _ambiguous_mask(naive: pd.DatetimeIndex, tz: str) -> np.ndarray:
    early = naive.tz_localize(tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="NaT")
    late = naive.tz_localize(tz, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="NaT")
    return np.asarray(early != late) & np.asarray(early.notna())


# -- writers --------------------------------------------------------------------------------


def write_firstrate(minutes: pd.DataFrame, path: str | Path) -> Path:
    """Write a minute frame as a FirstRate headerless ``.txt`` (naive ET stamps, start of minute)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    local = minutes.index.tz_convert(MARKET_TZ).tz_localize(None).as_unit("s")
    table = pa.table(
        {
            "time": pa.array(local.to_numpy(), type=pa.timestamp("s")),
            **{c: pa.array(minutes[c].to_numpy()) for c in COLUMNS},
        }
    )
    tmp = path.with_suffix(path.suffix + ".partial")
    pacsv.write_csv(table, tmp, pacsv.WriteOptions(include_header=False))
    tmp.replace(path)
    return path


def write_csv(minutes: pd.DataFrame, path: str | Path, columns: tuple[str, ...] = ("time", *COLUMNS), utc: bool = False) -> Path:
    """Write a minute frame as a CSV with a header, in any column order; ISO 8601 stamps with offset."""
    path = Path(path)
    frame = minutes.copy()
    index = frame.index.tz_convert("UTC") if utc else frame.index
    frame.insert(0, "time", iso8601(index))
    frame[list(columns)].to_csv(path, index=False)
    return path


def iso8601(stamps: pd.DatetimeIndex | pd.Series) -> pd.Index | pd.Series:
    """Tz-aware stamps as ISO 8601 strings with a colon offset: ``2023-01-03T09:30:00-05:00``."""
    text = stamps.strftime("%Y-%m-%dT%H:%M:%S%z") if isinstance(stamps, pd.DatetimeIndex) else stamps.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return text.str.replace(r"(\d\d)(\d\d)$", r"\1:\2", regex=True)


def write_parquet(minutes: pd.DataFrame, path: str | Path) -> Path:
    """Write a minute frame as Parquet (tz-aware ``time`` column)."""
    path = Path(path)
    minutes.reset_index().to_parquet(path, index=False)
    return path
