"""`fetcher serve`: Django Packages' API v4, read-only, from the store, and fetcher's own endpoints beside it.

The decisions are plain functions: `routes` (which endpoint, the URLs an answer links to), `pages` (DRF's
limit/offset pages), `conditional` (ETag, Last-Modified, 304) and `answers` (each answer's status, headers and
body, read from the store in one read transaction), `rendered` (printed records kept by their row). The HTTP framework stays at the edge: `app` (Starlette: a
request in, the answer out, the store's reads in a thread of their own) and `server` (uvicorn: the socket, the
signals, the access log). Only `app` and `server` need the `serve` extra.
"""
