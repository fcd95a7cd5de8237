-- The store's shape. Applied at every start by fetcher.store.open_store, so
-- every table and index statement must be idempotent. Changes to existing
-- tables go in the migrations list in fetcher/store/schema.py, never here.
-- These names are fetcher's: a store where another program keeps a table,
-- index or view under one of them is refused (fetcher/store/shape.py).

-- One row per package: exactly the fields the API serves. Lists are JSON
-- text; date-times are ISO 8601 in UTC.
CREATE TABLE IF NOT EXISTS package (
    id                INTEGER PRIMARY KEY,
    slug              TEXT NOT NULL UNIQUE,
    title             TEXT NOT NULL DEFAULT '',
    category          TEXT,
    grids             TEXT NOT NULL DEFAULT '[]',
    last_updated      TEXT,
    last_fetched      TEXT,
    repo_url          TEXT NOT NULL DEFAULT '',
    pypi_version      TEXT,
    created           TEXT NOT NULL,
    modified          TEXT NOT NULL,
    repo_forks        INTEGER NOT NULL DEFAULT 0,
    repo_description  TEXT NOT NULL DEFAULT '',
    pypi_url          TEXT,
    documentation_url TEXT,
    repo_watchers     INTEGER NOT NULL DEFAULT 0,
    commits_over_52   TEXT NOT NULL DEFAULT '[]',
    participants      TEXT NOT NULL DEFAULT '[]'
);

-- Due packages are picked oldest first; never-fetched ones (NULL) lead.
CREATE INDEX IF NOT EXISTS package_last_fetched ON package (last_fetched);
-- The same order as sync reads it, a page at a time by keyset: (position, id) after the last page's.
CREATE INDEX IF NOT EXISTS package_due_order ON package (coalesce(last_fetched, ''), id);
-- The API's order (newest id first), a page at any offset: walking this small index is 50 times quicker than
-- walking the table's rows. Counting the packages walks it too.
CREATE INDEX IF NOT EXISTS package_id_order ON package (id);
-- The packages changed since a moment (the server's ?modified_since=), and the newest change.
CREATE INDEX IF NOT EXISTS package_modified ON package (modified);

-- How fetching a package has gone, kept apart so the API table stays clean.
CREATE TABLE IF NOT EXISTS fetch_state (
    package_id           INTEGER PRIMARY KEY REFERENCES package (id) ON DELETE CASCADE,
    last_attempt         TEXT,
    last_error           TEXT,
    last_error_at        TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    note                 TEXT,       -- why part of the record was left as it was
    failing_since        TEXT,       -- the first failure of the current run of failures
    last_points          INTEGER,    -- rate-limit points the last successful fetch cost (the run's budget plan)
    pending              INTEGER NOT NULL DEFAULT 0 -- 1: a part the host was still computing (GitHub's 202) is
                                     -- not written yet; the package is due until it is
);

-- What each GitHub or PyPI resource answered last time, per package: its
-- validators (ETag, Last-Modified) for conditional requests, and the part of
-- the record it gave, so a 304 (which GitHub does not charge) or an unchanged
-- pushedAt can stand in for a full answer.
CREATE TABLE IF NOT EXISTS resource_cache (
    package_id    INTEGER NOT NULL REFERENCES package (id) ON DELETE CASCADE,
    resource      TEXT NOT NULL,    -- repo, commits, contributors, participation, pypi
    etag          TEXT,
    last_modified TEXT,
    value         TEXT NOT NULL,    -- JSON
    fetched_at    TEXT NOT NULL,
    token_env     TEXT,             -- the pool token that asked: GitHub's ETags hold for that token only
    PRIMARY KEY (package_id, resource)
);

-- One row per sync or refresh: what it did, for a person or a dashboard.
CREATE TABLE IF NOT EXISTS sync_run (
    id         INTEGER PRIMARY KEY,
    command    TEXT NOT NULL,
    started    TEXT NOT NULL,
    finished   TEXT NOT NULL,
    packages   INTEGER NOT NULL,
    synced     INTEGER NOT NULL,
    unchanged  INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    skipped    INTEGER NOT NULL,
    pending    INTEGER NOT NULL,
    requests   INTEGER NOT NULL,   -- every request sent, GitHub and PyPI, retries included
    not_modified INTEGER NOT NULL, -- of those, answered 304 (free)
    retries    INTEGER NOT NULL,   -- of those, asked again after a transient failure or a rate-limit wait
    graphql_points INTEGER NOT NULL,
    points     INTEGER NOT NULL,   -- GitHub rate-limit points spent: REST answers but 304s, plus GraphQL cost
    seconds    REAL NOT NULL,
    stopped    TEXT,       -- why the run ended early, NULL when it finished
    rate_limit_wait REAL NOT NULL DEFAULT 0, -- seconds spent waiting for rate limits to reset
    deferred   INTEGER NOT NULL DEFAULT 0, -- due packages left for the next run: the pool could not pay for them
    -- Per GitHub token variable (never the token), as JSON: {"VAR": {"core": {"spent": N, "left": N},
    -- "graphql": {...}, "rejected": false}}; "left" is null when no answer said. NULL: no token.
    tokens     TEXT,
    worker_id  INTEGER,    -- the worker row (table worker) this run was, while it ran
    host       TEXT,       -- the machine and process that ran it: one run per worker of a fleet
    pid        INTEGER
);

-- The sync and refresh processes working on the store now: one row per run, made at its start, renewed while
-- it lives, deleted at its end. Several at once share one PostgreSQL store (docs/fleet.md); a row whose
-- alive_until has passed is a worker that died (kill -9, a lost machine): its claims and holds count no more.
CREATE TABLE IF NOT EXISTS worker (
    id           INTEGER PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    command      TEXT NOT NULL,     -- sync or refresh
    started      TEXT NOT NULL,
    pass_started TEXT NOT NULL,     -- the pass it works on: the first start among the workers live when it began;
                                    -- a package attempted since then is not taken again in this pass
    alive_until  TEXT NOT NULL,     -- its lease, renewed while it lives
    claimed      INTEGER NOT NULL DEFAULT 0 -- packages it has claimed in this run
);

-- Which worker is fetching a package: taken in due order (on PostgreSQL with FOR UPDATE SKIP LOCKED), renewed
-- while its worker lives, released on every outcome. One past claimed_until is free for any worker to take.
CREATE TABLE IF NOT EXISTS claim (
    package_id    INTEGER PRIMARY KEY REFERENCES package (id) ON DELETE CASCADE,
    claimed_by    INTEGER NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
    claimed_until TEXT NOT NULL,
    points        INTEGER NOT NULL DEFAULT 0 -- GitHub points the fetch is expected to cost (the fleet's budget plan)
);
CREATE INDEX IF NOT EXISTS claim_claimed_by ON claim (claimed_by);

-- Points of a rate-limit budget a worker has reserved for requests it has sent and not yet had answered: the
-- workers together never send past a budget's remaining less sync.reserve (rate_limit holds what GitHub last said).
CREATE TABLE IF NOT EXISTS budget_hold (
    worker_id INTEGER NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
    token_env TEXT NOT NULL,
    resource  TEXT NOT NULL,
    points    INTEGER NOT NULL,
    PRIMARY KEY (worker_id, token_env, resource)
);

-- What a directory shows beside the record (never inside the 18 API fields):
-- one row per package, written by a sync in the same transaction as its
-- record, or by `import` from a record's "facts" object. NULL: not known.
-- Booleans are 0/1; lists are JSON; date-times are ISO 8601 in UTC.
CREATE TABLE IF NOT EXISTS facts (
    package_id            INTEGER PRIMARY KEY REFERENCES package (id) ON DELETE CASCADE,
    archived              INTEGER,  -- the repository is archived (read-only)
    archived_at           TEXT,     -- since when: as the host says, else when fetcher first saw it
    commit_count          INTEGER,  -- commits on the default branch
    license               TEXT,     -- PEP 639 expression as is, else names as a JSON list: a short license or classifiers
    requires_python       TEXT,     -- PyPI info.requires_python
    supports_python3      INTEGER,  -- from requires_python, else the Python 3 classifiers
    django_versions       TEXT,     -- JSON list from "Framework :: Django :: X.Y", sorted as versions
    classifiers           TEXT,     -- JSON list, as PyPI gives it
    latest_release_at     TEXT,     -- first upload of the files of PyPI's info.version
    latest_release_yanked INTEGER,
    pypi_status           TEXT,     -- PEP 792: active, archived, quarantined, deprecated
    score                 INTEGER,  -- Django Packages' score (README: "The score")
    modified              TEXT      -- when a fact last changed
);

-- How tracked values moved: one row per package and UTC day on which one of
-- them changed, holding the new values. Nothing is written on a day nothing
-- changed; several changes on one day update that day's row.
CREATE TABLE IF NOT EXISTS history (
    package_id   INTEGER NOT NULL REFERENCES package (id) ON DELETE CASCADE,
    date         TEXT NOT NULL,     -- YYYY-MM-DD, UTC
    stars        INTEGER,
    forks        INTEGER,
    participants INTEGER,           -- how many participants
    commit_count INTEGER,
    pypi_version TEXT,
    archived     INTEGER,
    PRIMARY KEY (package_id, date)
);

-- What a sync wrote into the catalogue's own fields, kept so that importing the catalogue again does not undo
-- it (README: "Who owns which field").
-- Each repository URL a host confirmed the package's repository moved away from (a rename or a transfer a sync
-- followed): a catalogue still giving an old URL names the same repository, and changes nothing.
CREATE TABLE IF NOT EXISTS repo_move (
    package_id INTEGER NOT NULL REFERENCES package (id) ON DELETE CASCADE,
    old_url    TEXT NOT NULL,       -- repo_url as it was stored before the move
    new_url    TEXT NOT NULL,       -- the repo_url the host confirmed
    moved_at   TEXT NOT NULL,
    PRIMARY KEY (package_id, old_url)
);

-- The documentation_url a sync filled from PyPI while the record had none: an import giving none keeps it.
CREATE TABLE IF NOT EXISTS filled_documentation (
    package_id INTEGER PRIMARY KEY REFERENCES package (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,       -- what the sync wrote
    filled_at  TEXT NOT NULL
);

-- A directory's grids and categories as its API v4 lists them (`fetcher import --from-api`), in tables of their
-- own so that whatever serves the API can answer them (fetcher/directory.py has their fields and sources).
-- Booleans are 0/1; lists are JSON; date-times are ISO 8601 in UTC.
CREATE TABLE IF NOT EXISTS grid (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    is_locked   INTEGER NOT NULL,
    packages    TEXT NOT NULL,      -- the API URLs of its packages, as the directory gave them
    header      INTEGER NOT NULL,
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    imported    TEXT NOT NULL       -- when a walk last wrote it
);

CREATE TABLE IF NOT EXISTS category (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    slug         TEXT NOT NULL,     -- not unique in Django Packages' model
    description  TEXT NOT NULL,
    title_plural TEXT NOT NULL,
    show_pypi    INTEGER NOT NULL,
    created      TEXT NOT NULL,
    modified     TEXT NOT NULL,
    imported     TEXT NOT NULL
);

-- Where each directory's walk is: an interrupted `import --from-api` continues at next_url; a finished one (NULL)
-- starts over from the API root. Written with each page, in the page's own transaction.
CREATE TABLE IF NOT EXISTS import_walk (
    api_url  TEXT PRIMARY KEY,      -- the directory's API root, ending in /
    started  TEXT NOT NULL,         -- when this walk began
    next_url TEXT,                  -- the page to ask next; NULL once the walk read its last page
    pages    INTEGER NOT NULL,      -- pages this walk has read (304s included)
    updated  TEXT NOT NULL,         -- when it last wrote a page
    finished TEXT                   -- when it read its last page; NULL while under way
);

-- Each page of a directory's listings as a walk last read it: its validators, to ask it conditionally next time,
-- and its `next`, which a 304 does not repeat. Written in the same transaction as the page's records.
CREATE TABLE IF NOT EXISTS import_page (
    url           TEXT PRIMARY KEY, -- as asked
    api_url       TEXT NOT NULL,
    listing       TEXT NOT NULL,    -- packages, grids or categories
    etag          TEXT,
    last_modified TEXT,
    next_url      TEXT,             -- the page's `next`, as it gave it
    records       INTEGER NOT NULL, -- how many it held
    walk_started  TEXT NOT NULL,    -- the walk that last read it: a `next` back to it in that walk is a cycle
    read_at       TEXT NOT NULL
);

-- Each rate-limit budget as the last run saw it, per token variable ('' when
-- no token was set) and resource (GitHub's core, graphql, ...), so `fetcher
-- status` can tell what is left without asking.
CREATE TABLE IF NOT EXISTS rate_limit (
    token_env TEXT NOT NULL,
    resource  TEXT NOT NULL,
    budget    INTEGER NOT NULL,   -- points a window holds
    remaining INTEGER NOT NULL,
    reset     TEXT NOT NULL,      -- when the window starts afresh
    seen_at   TEXT NOT NULL,
    PRIMARY KEY (token_env, resource)
);

-- Per run, per token of the pool (github.token_env) and resource (core, graphql): the points the run
-- spent of it and what was left when last heard from. A token GitHub rejected (401) is marked.
CREATE TABLE IF NOT EXISTS run_token (
    run_id    INTEGER NOT NULL REFERENCES sync_run (id) ON DELETE CASCADE,
    token_env TEXT NOT NULL,      -- the variable the token was read from, never the token
    resource  TEXT NOT NULL,
    spent     INTEGER NOT NULL,
    remaining INTEGER,            -- NULL when no answer reported it
    budget    INTEGER,
    reset     TEXT,
    rejected  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, token_env, resource)
);

-- Settings the last sync ran with that the views below need (stale_after_seconds).
CREATE TABLE IF NOT EXISTS setting (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The views fetcher made, each with its definition as SQLite keeps it
-- (sqlite_master.sql): a view of one of their names that is not recorded
-- here as it stands is another program's, and never dropped.
CREATE TABLE IF NOT EXISTS fetcher_view (
    name TEXT PRIMARY KEY,
    sql  TEXT NOT NULL
);

-- Views for a person browsing the store (Datasette, sqlite3). Made at a start
-- that finds one missing or defined otherwise than here (fetcher/store/shape.py),
-- so a changed definition reaches existing stores.

-- Each package with how fetching it goes and when it is next due.
CREATE VIEW package_status AS
SELECT
    package.id,
    package.slug,
    package.title,
    package.repo_url,
    package.last_fetched,
    -- fetcher.due in SQL: stale_after after the last fetch or, while failing, a rest of
    -- stale_after x 2^(failures - 1) after the last failure, at most 30 days (or stale_after); with a
    -- part still pending, due again since its last fetch.
    CASE WHEN COALESCE(fetch_state.pending, 0) = 1 AND package.last_fetched IS NOT NULL
         THEN strftime('%Y-%m-%dT%H:%M:%SZ', package.last_fetched)
         WHEN COALESCE(fetch_state.consecutive_failures, 0) > 0 AND fetch_state.last_error_at IS NOT NULL
         THEN strftime('%Y-%m-%dT%H:%M:%SZ', fetch_state.last_error_at, '+' || min(
             setting_stale.seconds * (1 << min(fetch_state.consecutive_failures - 1, 30)),
             max(2592000, setting_stale.seconds)
         ) || ' seconds')
         WHEN package.last_fetched IS NULL THEN NULL
         ELSE strftime('%Y-%m-%dT%H:%M:%SZ', package.last_fetched, '+' || setting_stale.seconds || ' seconds')
    END AS due_at,
    COALESCE(fetch_state.consecutive_failures, 0) AS consecutive_failures,
    fetch_state.last_attempt,
    fetch_state.last_error,
    fetch_state.failing_since,
    fetch_state.last_error_at,
    fetch_state.note,
    COALESCE(fetch_state.pending, 0) AS pending
FROM package LEFT JOIN fetch_state ON fetch_state.package_id = package.id
CROSS JOIN (
    SELECT CAST(COALESCE((SELECT value FROM setting WHERE name = 'stale_after_seconds'), 86400) AS INTEGER)
        AS seconds
) AS setting_stale;

-- The packages whose last fetch failed, the longest-failing first.
CREATE VIEW failing AS
SELECT
    package.slug,
    fetch_state.consecutive_failures,
    fetch_state.failing_since,
    fetch_state.last_error,
    fetch_state.last_error_at,
    package.last_fetched AS last_good_fetch
FROM fetch_state JOIN package ON package.id = fetch_state.package_id
WHERE fetch_state.consecutive_failures > 0
ORDER BY fetch_state.consecutive_failures DESC, fetch_state.failing_since, package.slug;

-- Each sync or refresh, newest first, with how long it took.
CREATE VIEW runs AS
SELECT
    id,
    command,
    started,
    finished,
    round(seconds, 1) AS seconds,
    round(rate_limit_wait, 1) AS rate_limit_wait,
    packages,
    synced,
    unchanged,
    failed,
    skipped,
    pending AS sparklines_kept,
    requests,
    not_modified,
    retries,
    points,
    stopped
FROM sync_run
ORDER BY id DESC;
