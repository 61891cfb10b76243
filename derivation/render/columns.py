"""Whole columns of integers as text at once (numpy): the rows of ``derivation sweep``.

Formatting a row at a time costs microseconds in Python; here a block of rows is one uint8 matrix,
one row of text per matrix row, and every column is written into it with a few array operations:

- integers become digits four at a time (one division by 10⁴ and one table look-up per four
  digits, :func:`decimal`), with the thousands separators of ``f"{n:,}"`` (:func:`grouped`) or
  the 1024-based units of :func:`~derivation.render.units.human` (:func:`human`), right-aligned;
- a column with few distinct values (a grid axis) is a small table of its values' texts, written
  once by the Python formatter itself, and each row takes its line by index (:func:`texts`);
- CSV and JSON rows are variable-width: the matrix is padded with NUL bytes, which one boolean
  mask removes from the block, whose bytes are then written with one call (:func:`lines`).

Every function writes exactly the bytes of the Python formatting it replaces (``str``,
``f"{n:,}"``, ``human``, ``json.dumps``); ``tests/test_columns.py`` compares them on random values,
including the int64 extremes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from . import units
from .units import UNITS

PAD = 0  # the byte that pads a variable-width cell, removed by lines(..., strip=True)
SPACE = ord(" ")


def _table(entries: list[str], pad: int) -> np.ndarray:
    """Equal-length ASCII entries (``~`` standing for the pad byte) as uint32 or uint64 words:
    a whole cell fragment is then one look-up and one store."""
    size = len(entries[0])
    raw = "".join(entries).encode("ascii").replace(b"~", bytes([pad]))
    return np.frombuffer(raw, dtype=np.uint32 if size == 4 else np.uint64)


@lru_cache(maxsize=None)
def _quads(pad: int) -> np.ndarray:
    """Four digits per entry: 0–9999 inner ("0042"), 10000 + r a leading quad ("~~42"),
    20000 a quad before the leading one (all pad)."""
    return _table([f"{i:04d}" for i in range(10000)] + [f"{i:~>4d}" for i in range(10000)] + ["~~~~"], pad)


@lru_cache(maxsize=None)
def _groups(pad: int) -> np.ndarray:
    """Three digits and their separator per entry: 0–999 inner (",042"), 1000 + r a leading
    group ("~~42"), 2000 a group before the leading one (all pad)."""
    return _table([f",{i:03d}" for i in range(1000)] + [f"{i:~>4d}" for i in range(1000)] + ["~~~~"], pad)


def _words(magnitudes: np.ndarray, words: int, base: int, table: np.ndarray) -> np.ndarray:
    """(n, 4·words) uint8: each value in base-``base`` words looked up in ``table`` (see
    :func:`_quads`), right-aligned, the pad before the leading word."""
    out = np.empty((magnitudes.size, 4 * words), dtype=np.uint8)
    cells = out.view(np.uint32)
    divisor = np.uint64(base)
    x = magnitudes
    for j in range(words - 1, -1, -1):
        q = x // divisor
        index = (x - q * divisor).view(np.int64)
        index += (q == 0) * base  # the leading word
        if j < words - 1:
            index += (x == 0) * base  # before the leading word: all pad
        cells[:, j] = table[index]
        x = q
    return out


def _magnitudes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(|values| as uint64, the rows of negative values or None), for any int64."""
    values = np.asarray(values, dtype=np.int64)
    if values.size and int(values.min()) < 0:
        return np.abs(values).view(np.uint64), np.nonzero(values < 0)[0]  # |−2⁶³| is 2⁶³ in uint64
    return values.view(np.uint64), None


def width_of(values: np.ndarray) -> int:
    """The widest ``str(n)`` of an int64 array (0 for an empty one)."""
    if not values.size:
        return 0
    low, high = int(values.min()), int(values.max())
    return max(len(str(low)), len(str(high)))


def decimal(values: np.ndarray, width: int, pad: int = PAD) -> np.ndarray:
    """``str(n).rjust(width, pad)`` of every int64, as an (n, width) uint8 matrix (``width`` at
    least every ``len(str(n))``)."""
    magnitudes, negative = _magnitudes(values)
    words = max(1, -(-width // 4))
    out = _words(magnitudes, words, 10000, _quads(pad))[:, 4 * words - width:]
    if negative is not None:  # a sign: rare (sweep totals are positive), so in Python
        for row in negative.tolist():
            out[row] = np.frombuffer(str(int(values[row])).rjust(width, chr(pad)).encode(), np.uint8)
    return out


def grouped(values: np.ndarray, width: int, pad: int = SPACE) -> np.ndarray:
    """``f"{n:,}".rjust(width, pad)`` of every int64, as an (n, width) uint8 matrix."""
    magnitudes, negative = _magnitudes(values)
    words = max(1, -(-(width + 1) // 4))
    out = _words(magnitudes, words, 1000, _groups(pad))[:, 4 * words - width:]
    if negative is not None:
        for row in negative.tolist():
            out[row] = np.frombuffer(f"{int(values[row]):,}".rjust(width, chr(pad)).encode(), np.uint8)
    return out


_UNIT_SIZES = np.array([size for _, size in reversed(UNITS)], dtype=np.int64)  # KiB … TiB
_SHIFTS = np.array([0, *(size.bit_length() - 1 for _, size in reversed(UNITS))], dtype=np.int64)


@lru_cache(maxsize=None)
def _suffixes(pad: int) -> np.ndarray:
    """7 bytes (in 8) per entry: 0–1023 ``"{n} B"`` right-aligned, then ``".dd XiB"`` for each
    unit and each dd."""
    entries = [f"{n} B".rjust(7, "~") + "~" for n in range(1024)]
    entries += [f".{dd:02d} {name}~" for name, _ in reversed(UNITS) for dd in range(100)]
    return _table(entries, pad)


def human(values: np.ndarray, width: int, pad: int = SPACE) -> np.ndarray:
    """``units.human(n).rjust(width, pad)`` of every int64 ≥ 0, as an (n, width) uint8 matrix
    (``width`` ≥ 7, as every sweep's is: at least ``len("1023.99 MiB")``).

    ``human`` rounds n/size to two decimals, half up, in integers: with n = q·size + r,
    ⌊(100n + size/2)/size⌋ = 100q + ⌊(100r + size/2)/size⌋, which stays far inside int64.
    At or above 1 KiB it writes ``"{whole}.{dd} XiB"``, below ``"{n} B"``.
    """
    values = np.asarray(values, dtype=np.int64)
    if values.size and int(values.min()) < 0:
        raise ValueError("human() of a negative number of bytes")
    unit = np.searchsorted(_UNIT_SIZES, values, side="right")  # 0: B, 1: KiB … 4: TiB
    shift = _SHIFTS[unit]
    q = np.right_shift(values, shift)
    r = values - np.left_shift(q, shift)
    half = np.right_shift(np.left_shift(1, shift), 1)
    hundredths = 100 * q + np.right_shift(100 * r + half, shift)
    whole = hundredths // 100
    small = unit == 0
    index = 924 + 100 * unit + (hundredths - 100 * whole)  # 1024 + 100·(unit − 1) + dd
    out = np.empty((values.size, width), dtype=np.uint8)
    if small.any():
        index = np.where(small, values, index)
        whole = np.where(small, 0, whole)
    out[:, :width - 7] = decimal(whole, width - 7, pad)
    if small.any():
        out[small, :width - 7] = pad
    out[:, width - 7:] = _suffixes(pad)[index].view(np.uint8).reshape(-1, 8)[:, :7]
    return out


def texts(strings: Sequence[str], pad: int = PAD) -> np.ndarray:
    """A (len, width) uint8 table: each ASCII string right-aligned, ``pad`` bytes before."""
    encoded = [text.encode("ascii") for text in strings]
    width = max(map(len, encoded), default=0)
    return np.frombuffer(b"".join(chr(pad).encode("latin-1") * (width - len(e)) + e for e in encoded),
                         dtype=np.uint8).reshape(len(encoded), width)


def lines(parts: Iterable[bytes | np.ndarray], rows: int, strip: bool,
          buffer: np.ndarray | None = None) -> np.ndarray:
    """The rows' text, every part in order: a literal (the same in every row) or an (n, w) matrix.

    With ``strip``, every :data:`PAD` byte is removed (variable-width cells). The result is a
    flat uint8 array: write it with one call (``handle.write(array)``). ``buffer`` (a matrix of
    at least ``rows`` rows and the parts' width, from an earlier call with the same layout) is
    reused: the literals are already in it, only the matrices are written.
    """
    parts = [np.frombuffer(part, dtype=np.uint8) if isinstance(part, bytes) else part for part in parts]
    width = sum(part.shape[-1] for part in parts)
    fresh = buffer is None
    out = np.empty((rows, width), dtype=np.uint8) if fresh else buffer[:rows]
    at = 0
    for part in parts:
        if fresh or part.ndim == 2:
            out[:, at:at + part.shape[-1]] = part
        at += part.shape[-1]
    flat = out.reshape(-1)
    return flat[flat != PAD] if strip else flat


# --- the rows of a sweep --------------------------------------------------------------------------

BLOCK = 1 << 14  # rows formatted at a time: every temporary stays in cache, memory stays bounded
TABLE_LIMIT = 1 << 16  # an axis with at most this many values is a table of texts


class SweepRows:
    """The rows of ``derivation sweep``, as CSV, JSON lines or a text table, a block at a time.

    Row r is the configuration at flat index r of ``result`` (C order over the grid axes, the
    first grid varying slowest); its cells are ``columns`` (the derivation's symbols, each a grid
    axis or a fixed size) and the bytes. ``text(value)`` is how each format writes a size in
    Python (``str``, a JSON number or ``"3/2"``): axes of other than plain ints, and fixed sizes,
    are written by it once per value; everything else is written here, exactly as it would.
    """

    def __init__(self, result: np.ndarray, grids: dict[str, list], fixed: dict, columns: Sequence[str]):
        self.result = np.ascontiguousarray(result).reshape(-1)
        self.shape = tuple(result.shape)
        self.grids = grids
        self.names = list(grids)
        self.fixed = fixed
        self.columns = list(columns)
        self._axes: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray | None]] = {}
        self._buffer: tuple[tuple, np.ndarray] | None = None

    # --- the formats ---

    def csv(self, text, write) -> None:
        """Rows ``a,s,b,h,bytes`` ending ``\\r\\n``, as ``csv.writer`` writes them."""
        self._write(write, "csv", text, b"", b",", b"\r\n")

    def json(self, text, write) -> None:
        """Rows ``    [a, s, b, h, bytes]`` joined by ``,\\n`` (no newline after the last)."""
        self._write(write, "json", text, b"    [", b", ", b"],\n", trim=2)

    def table(self, widths: Sequence[int], write) -> None:
        """Rows of the swept sizes, the grouped bytes and ``human``, each right-aligned to its
        width, two spaces apart (``widths``: one per grid, then bytes, then human)."""
        *axes, bytes_width, human_width = widths
        block = BLOCK
        for start in range(0, self.result.size, block):
            stop = min(start + block, self.result.size)
            totals = self.result[start:stop]
            if int(totals.min()) < 0:  # human() of a negative size: the Python formatter, as ever
                write(self._table_python(start, stop, widths))
                continue
            indices = self._indices(start, stop)
            parts: list = []
            for name, width in zip(self.names, axes):
                parts += [self._axis(name, indices, "table", str, width, SPACE), b"  "]
            parts += [grouped(totals, bytes_width), b"  ", human(totals, human_width), b"\n"]
            write(self._lines(parts, stop - start, block, strip=False))

    # --- the machinery ---

    def _write(self, write, style, text, begin: bytes, separator: bytes, end: bytes,
               trim: int = 0) -> None:
        size, block = self.result.size, BLOCK
        for start in range(0, size, block):
            stop = min(start + block, size)
            indices = self._indices(start, stop)
            parts: list = [begin]
            for column in self.columns:
                if column in self.fixed:
                    parts.append(text(self.fixed[column]).encode("ascii"))
                else:
                    parts.append(self._axis(column, indices, style, text, 0, PAD))
                parts.append(separator)
            totals = self.result[start:stop]
            parts += [decimal(totals, width_of(totals)), end]
            out = self._lines(_merged(parts), stop - start, block, strip=True)
            write(out[:out.size - trim] if stop == size else out)

    def _lines(self, parts: list, rows: int, block: int, strip: bool) -> np.ndarray:
        """:func:`lines`, reusing the last block's matrix when the layout is the same."""
        layout = tuple(part if isinstance(part, bytes) else part.shape[-1] for part in parts)
        if self._buffer is None or self._buffer[0] != layout:
            out = np.empty((block, sum(p if isinstance(p, int) else len(p) for p in layout)), np.uint8)
            at = 0
            for part in parts:
                if isinstance(part, bytes):
                    out[:, at:at + len(part)] = np.frombuffer(part, np.uint8)
                at += len(part) if isinstance(part, bytes) else part.shape[-1]
            self._buffer = (layout, out)
        return lines(parts, rows, strip, buffer=self._buffer[1])

    def _indices(self, start: int, stop: int) -> dict[str, np.ndarray]:
        if len(self.shape) == 1:
            return {self.names[0]: np.arange(start, stop)}
        return dict(zip(self.names, np.unravel_index(np.arange(start, stop), self.shape)))

    def _axis(self, name: str, indices: dict, style: str, text, width: int, pad: int) -> np.ndarray:
        """The cells of grid ``name`` for this block: a table look-up, or the digits."""
        key = (name, style, width)
        if key not in self._axes:
            values = self.grids[name]
            plain = all(type(v) is int for v in values)
            numbers = np.array(values, dtype=np.int64) if plain else None
            if plain and len(values) > TABLE_LIMIT:
                table = None
            elif plain:
                table = decimal(numbers, max(width, width_of(numbers)), pad)
            else:
                table = texts([text(v).rjust(width) for v in values], pad)
            self._axes[key] = (numbers, table)
        numbers, table = self._axes[key]
        index = indices[name]
        if table is not None:
            return np.take(table, index, axis=0)
        chosen = numbers[index]
        return decimal(chosen, max(width, width_of(chosen)), pad)

    def _table_python(self, start: int, stop: int, widths: Sequence[int]) -> bytes:
        indices = self._indices(start, stop)
        out = []
        for k, total in enumerate(self.result[start:stop].tolist()):
            cells = [str(self.grids[name][int(indices[name][k])]) for name in self.names]
            cells += [units.grouped(total), units.human(total)]
            out.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)) + "\n")
        return "".join(out).encode("ascii")


def numbers(values: Sequence[int], separator: bytes, write) -> None:
    """``separator.join(str(v) for v in values)`` for plain ints, written a block at a time."""
    array = np.asarray(values, dtype=np.int64)
    for start in range(0, array.size, BLOCK):
        chunk = array[start:start + BLOCK]
        out = lines([decimal(chunk, width_of(chunk)), separator], chunk.size, strip=True)
        write(out[:out.size - len(separator)] if start + BLOCK >= array.size else out)


def _merged(parts: list) -> list:
    """Adjacent literals joined into one (fewer copies per block)."""
    out: list = []
    for part in parts:
        if isinstance(part, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += part
        elif not (isinstance(part, bytes) and not part):
            out.append(part)
    return out
