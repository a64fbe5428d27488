"""What a reader can work out from figures with hidden cells: the hidden cells that the shown
cells and the known sums (equations) pin down to one value. Dense and exact (rationals), small
tables only; independent of stats/suppression.py's own elimination, so tests can check it."""
from fractions import Fraction


def recoverable(equations, hidden):
    """The hidden cells some combination of the equations ({cell: coefficient}, each summing to
    a number the reader knows once the shown cells are put in) gives alone.

    The equations restricted to the hidden cells are brought to reduced row echelon form; a
    hidden cell is pinned down exactly when it leads a row in which nothing else is left."""
    unknowns = sorted(hidden, key=repr)
    matrix = [[Fraction(eq.get(c, 0)) for c in unknowns] for eq in equations]
    matrix = [row for row in matrix if any(row)]
    lead = {}                       # column -> its row
    top = 0
    for col in range(len(unknowns)):
        pivot = next((i for i in range(top, len(matrix)) if matrix[i][col]), None)
        if pivot is None:
            continue
        matrix[top], matrix[pivot] = matrix[pivot], matrix[top]
        head = matrix[top][col]
        matrix[top] = [a / head for a in matrix[top]]
        for i in range(len(matrix)):
            if i != top and matrix[i][col]:
                f = matrix[i][col]
                matrix[i] = [a - f * b for a, b in zip(matrix[i], matrix[top], strict=True)]
        lead[col] = top
        top += 1
    return {unknowns[col] for col, i in lead.items()
            if sum(1 for a in matrix[i] if a) == 1}
