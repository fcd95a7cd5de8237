"""GitHub's wing: everything GitHub-only (its host, answer rules, GraphQL, token pool, pacing, budget plan, check)."""
