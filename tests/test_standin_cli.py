"""fetcher-standin from the command line: its spellings, and how a shell knows it is ready and stops it."""

from pathlib import Path

from fetcher.standin import cli


def test_catalogue_is_the_documented_spelling_and_catalog_still_works():
    options = cli.parser()
    for spelling in ("--catalogue", "--catalog"):
        args = options.parse_args([spelling, "packages.json"])
        assert args.catalogue == Path("packages.json") and args.packages is None
    for spelling in ("--catalogue-out", "--catalog-out"):
        args = options.parse_args(["--packages", "3", spelling, "out.json"])
        assert args.catalogue_out == Path("out.json") and args.packages == 3
    usage = options.format_help()
    assert "--catalogue FILE, --catalog FILE" in usage and "--catalogue-out PATH, --catalog-out PATH" in usage
