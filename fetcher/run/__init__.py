"""A sync or a refresh: the loop, its work items, the budget plan, the report, stop signals and the run lock."""
