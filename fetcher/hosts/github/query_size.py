"""How many repositories a GraphQL query asks for, and whether it asks their commit counts.

GitHub stops a query that runs past 10 seconds (a 502 or 504) and still charges for it; the commit count of
each default branch (`history { totalCount }`) is what makes a query of many large repositories slow. A query
that timed out is never asked again as it was: its repositories are asked half as many to a query, down to
MIN_QUERY_SIZE; a query that small that still times out is asked without the counts for the rest of the run
(the stored counts are kept). The size doubles again after some queries in a row that answered, up to the
batch size; each timeout doubles how many that takes, so a size that keeps timing out is tried ever more rarely.
Pure state: host.py asks and tells it.
"""

from dataclasses import dataclass

MIN_QUERY_SIZE = 10
GROW_AFTER = 3  # queries in a row that answered before the size doubles, until the first timeout


@dataclass
class QuerySize:
    largest: int  # the batch size: never more than this to a query
    size: int = 0
    with_counts: bool = True
    grow_after: int = GROW_AFTER
    answered_in_a_row: int = 0

    def __post_init__(self):
        self.size = self.size or self.largest

    def timed_out(self, asked: int) -> bool:
        """A query of `asked` repositories timed out: whether they can be asked in another way (smaller, or
        without the counts). False when nothing is left to take out: the query fails."""
        self.answered_in_a_row = 0
        self.grow_after *= 2
        if asked >= 2 * MIN_QUERY_SIZE:
            self.size = min(self.size, asked // 2)
            return True
        if self.with_counts:
            self.with_counts = False
            return True
        return False

    def answered(self) -> None:
        self.answered_in_a_row += 1
        if self.answered_in_a_row >= self.grow_after and self.size < self.largest:
            self.size, self.answered_in_a_row = min(self.largest, self.size * 2), 0
