"""Small-count protection, pure (no I/O): which cells of a set of tables a reader may not see.

A *cell* is any hashable key with a number (cells not given are 0). A *line* is a relation a
reader can use to work a cell out by subtraction: a total and the cells that make it up (a
figure and its breakdown by category, age group or detail; a place and the places under it), or
any signed sum of shown cells that is known (`Line(members, total=None, signs=...)`). Lines are
taken as exact even where they are not quite (categories overlap): that can only hide more.

1. *Primary suppression* hides every cell whose value is 1 .. k-1 (or -1 .. -(k-1)). A zero is
   not a small count: it is shown.
2. *Complementary suppression*: a line with exactly one hidden cell (its total counts as one of
   its cells) would give it away by subtraction, so the smallest non-zero cell it shows is hidden
   too (a zero only when it shows no other); again, until no line has exactly one.
3. *Audit*: lines that each hide two cells or more can still, together, pin one down (two groups
   of hidden cells joined by a single hidden cell). The hidden cells are solved for exactly, as a
   reader would, from every line (sparse Gauss-Jordan elimination); each small cell found to
   have a single possible value gets one more hidden cell beside it, and 2-3 run again until
   none has. A cell hidden only beside a small one that can be worked out all the same is then
   shown: hiding it protects nothing. So no hidden cell can be worked out from the shown ones.

The result depends only on the cells and lines, not on the order they are given in, so the same
figures give the same hidden cells whichever request reads them.
"""
import heapq
from dataclasses import dataclass

PRIME = 2**61 - 1


@dataclass(frozen=True)
class Line:
    """`total` = sum of `members` (signs +1 unless `signs` gives them); `total` None: the signed
    sum of `members` is known to the reader."""
    members: tuple
    total: object = None
    signs: tuple = ()

    def cells(self):
        return ((self.total,) if self.total is not None else ()) + tuple(self.members)

    def terms(self):
        """{cell: coefficient} of the equation the line states (the total with -1)."""
        out = {}
        signs = self.signs or (1,) * len(self.members)
        for cell, sign in zip(self.members, signs, strict=True):
            out[cell] = out.get(cell, 0) + sign
        if self.total is not None:
            out[self.total] = out.get(self.total, 0) - 1
        return {c: n for c, n in out.items() if n}


def small(value, k):
    """Whether a value is a small count: 1 .. k-1 people (or a negative one as small)."""
    return bool(value) and abs(value) < k


def suppress(values, lines, k):
    """The cells to hide: {cell: "primary" | "complementary"}.

    `values` {cell: number} (a cell not in it is 0); `lines` an iterable of Line; `k` the
    threshold (a value 1 .. k-1 is hidden)."""
    lines = [line.terms() for line in sorted(set(lines), key=_line_order)]
    lines = [terms for terms in lines if len(terms) > 1]
    hidden = {c: "primary" for c, v in values.items() if small(v, k)}
    by_cell = {}
    for i, terms in enumerate(lines):
        for cell in terms:
            by_cell.setdefault(cell, []).append(i)
    _complete(values, lines, by_cell, hidden, list(hidden))
    while True:
        pinned = determined(lines, hidden)
        added = []
        for cell in pinned:
            if hidden[cell] == "primary":
                extra = _widen(values, lines, by_cell, hidden, cell)
                if extra is not None:
                    hidden[extra] = "complementary"
                    added.append(extra)
        if not added:
            for cell in pinned:         # hidden beside a small one, yet worked out all the
                if hidden[cell] != "primary":       # same: hiding it protects nothing
                    del hidden[cell]
            return hidden
        _complete(values, lines, by_cell, hidden, added)


def _line_order(line):
    return (repr(line.total), tuple(sorted(map(repr, line.members))), line.signs)


def _candidate(values, cells, hidden):
    """The cell to hide beside the hidden ones: the smallest non-zero shown one, else a zero."""
    shown = [c for c in cells if c not in hidden]
    if not shown:
        return None
    return min(shown, key=lambda c: (values.get(c, 0) == 0, abs(values.get(c, 0)), repr(c)))


def _complete(values, lines, by_cell, hidden, changed):
    """Complementary suppression: until no line hides exactly one cell (lines taken in a fixed
    order: the lowest-numbered line waiting first)."""
    waiting = sorted({i for cell in changed for i in by_cell.get(cell, ())})
    queued = set(waiting)
    heapq.heapify(waiting)
    while waiting:
        i = heapq.heappop(waiting)
        queued.discard(i)
        cells = list(lines[i])
        if sum(1 for c in cells if c in hidden) != 1:
            continue
        extra = _candidate(values, cells, hidden)
        if extra is None:
            continue
        hidden[extra] = "complementary"
        for j in by_cell.get(extra, ()):
            if j not in queued:
                queued.add(j)
                heapq.heappush(waiting, j)


def _widen(values, lines, by_cell, hidden, cell):
    """One more cell to hide beside a small one that can be worked out: a shown cell of a line
    through it (or, when they show none, of the nearest line that does, going out through hidden
    cells), preferably one that is also in a line hiding cells already, so that the two join
    into a loop of hidden cells that no sum undoes; then the smallest."""
    seen_lines, seen_cells, frontier = set(), {cell}, [cell]
    while frontier:
        best = None
        for i in sorted({i for c in frontier for i in by_cell.get(c, ())} - seen_lines):
            seen_lines.add(i)
            for c in lines[i]:
                if c in hidden:
                    continue
                joins = any(h in hidden for j in by_cell.get(c, ()) if j != i for h in lines[j])
                score = (not joins, values.get(c, 0) == 0, abs(values.get(c, 0)), repr(c))
                if best is None or score < best[0]:
                    best = (score, c)
        if best is not None:
            return best[1]
        frontier = [c for i in seen_lines for c in lines[i] if c in hidden and c not in seen_cells]
        seen_cells.update(frontier)
    return None


def determined(lines, hidden):
    """The hidden cells a reader can work out exactly from the lines (their {cell: coefficient}
    terms) and the shown cells, sorted.

    Each line with a hidden cell is an equation in the hidden cells (the shown ones are known
    numbers). A hidden cell is pinned down when the equations' reduced row echelon form has a
    row holding it alone. The elimination is sparse, in the integers modulo the prime 2**61 - 1
    (the equations' coefficients are small integers: the ranks, and so the answer, are those of
    the rationals but for a chance of about one in 2**61 per step)."""
    pivots = {}             # pivot cell -> its row {cell: coefficient}, reduced against the others
    holding = {}            # cell -> pivot cells whose rows hold it
    for terms in lines:
        row = {c: n % PRIME for c, n in terms.items() if c in hidden}
        if not row:
            continue
        for p in [c for c in row if c in pivots]:
            factor = row.pop(p)
            for c, n in pivots[p].items():
                if c != p:
                    value = (row.get(c, 0) - factor * n) % PRIME
                    if value:
                        row[c] = value
                    else:
                        row.pop(c, None)
        if not row:
            continue
        pivot = min(row, key=lambda c: len(holding.get(c, ())))   # the least to eliminate
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        row = {c: n * inverse % PRIME for c, n in row.items()}
        for q in holding.pop(pivot, ()):                  # eliminate it from the older rows
            other = pivots[q]
            factor = other.pop(pivot)
            for c, n in row.items():
                if c == pivot:
                    continue
                value = (other.get(c, 0) - factor * n) % PRIME
                if value:
                    if c not in other:
                        holding.setdefault(c, set()).add(q)
                    other[c] = value
                elif c in other:
                    del other[c]
                    holding[c].discard(q)
        pivots[pivot] = row
        for c in row:
            if c != pivot:
                holding.setdefault(c, set()).add(pivot)
    return sorted((p for p, row in pivots.items() if len(row) == 1), key=repr)
