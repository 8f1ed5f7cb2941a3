"""Searches a gallery of images with a SavedModel: which gallery image shows the person in
this query image, or nobody? (docs/search.md)

  index      embed every image under a folder into a new index (faiss vectors, SQLite facts)
  add        embed the folder's images the index does not hold yet
  remove     drop images (files or folders) from an index
  query      rank the gallery for each query image: JSON (and an HTML page)
  calibrate  choose the "no match" threshold on a labelled split, stored with the index

An index remembers the SavedModel it was built with and refuses another. Every change is
atomic: a kill leaves the previous index usable. Exit status: 0 success, 2 bad arguments (an
empty folder, another model, --top-k beyond the gallery, a threshold outside [0, 2]), 1 other
failures (an unreadable image is named).
"""

import argparse
import math

from tfreid import cli

MODALITIES = {"rgb": 0, "ir": 1}


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _index_parser(commands).set_defaults(run=_index)
    _add_parser(commands).set_defaults(run=_add)
    remove = commands.add_parser("remove", help="drop images (files or folders) from an index")
    remove.add_argument("--index", required=True, help="the index directory")
    remove.add_argument("--images", required=True, nargs="+", help="files or folders to drop")
    remove.set_defaults(run=_remove)
    _query_parser(commands).set_defaults(run=_query)
    _calibrate_parser(commands).set_defaults(run=_calibrate)
    args = parser.parse_args()
    cli.run(lambda: args.run(args))


def _index(args) -> None:
    from tfreid.search import commands
    from tfreid.search.vectors import VectorSettings

    settings = VectorSettings(
        metric=args.metric, kind=args.kind, ef_search=args.ef_search, nprobe=args.nprobe
    )
    index = commands.build(
        args.saved_model, args.images, MODALITIES[args.modality], args.index, settings,
        args.split, args.overwrite, args.batch_size, args.input_size,
    )  # fmt: skip
    print(
        f"indexed {len(index.images)} {args.modality} images ({args.kind} {args.metric} index, "
        f"{index.info['dim']}-d, images resized to {index.info['model']['input_size']}) into "
        f"{index.path}"
    )


def _add(args) -> None:
    from tfreid.search import commands

    added, held = commands.add(
        args.index, args.images, MODALITIES[args.modality], args.saved_model, args.split,
        args.batch_size,
    )  # fmt: skip
    print(f"added {added} images to {args.index}; {held} were already in it")


def _remove(args) -> None:
    from tfreid.search import commands

    print(f"removed {commands.remove(args.index, args.images)} images from {args.index}")


def _query(args) -> None:
    from tfreid.search import commands

    entries = commands.search(
        args.index, args.images, MODALITIES[args.modality], args.top_k, args.json, args.html,
        args.threshold, args.rerank_candidates if args.rerank else None, args.saved_model,
        args.batch_size,
    )  # fmt: skip
    refused = sum(entry["no_match"] for entry in entries)
    print(f"{len(entries)} queries, {refused} without a match; results in {args.json}")


def _calibrate(args) -> None:
    from tfreid.search import commands

    result = commands.calibrate_threshold(
        args.index, args.images, MODALITIES[args.modality], args.target_fmr, args.split,
        args.saved_model, args.batch_size,
    )  # fmt: skip
    print(
        f"threshold {result.threshold:.4f} at target false-match rate "
        f"{result.target_false_match_rate}: hit rate {result.hit_rate:.4f} "
        f"({result.mated_searches} mated searches), false-match rate "
        f"{result.false_match_rate:.4f} ({result.non_mated_searches} non-mated searches); "
        f"stored in {args.index}"
    )


def _common(command, modality_help: str, folder: bool = True) -> None:
    command.add_argument("--index", required=True, help="the index directory")
    command.add_argument("--modality", required=True, choices=MODALITIES, help=modality_help)
    if folder:
        command.add_argument(
            "--split",
            choices=("train", "val", "test"),
            help="SYSU-MM01 root only: the ids of exp/<split>_id.txt",
        )
    command.add_argument("--batch-size", type=cli.positive_int, default=32, help="images per call")


def _saved_model_argument(command) -> None:
    command.add_argument(
        "--saved-model", help="the index's SavedModel if it moved (must be the same model)"
    )


def _index_parser(commands):
    index = commands.add_parser("index", help="embed a folder's images into a new index")
    index.add_argument("--saved-model", required=True, help="SavedModel directory")
    index.add_argument("--images", required=True, help="folder of gallery images (recursive)")
    _common(index, "the gallery images' modality")
    index.add_argument(
        "--kind",
        choices=("exact", "hnsw", "ivf"),
        default="exact",
        help="exact (default) or an approximate index for large galleries",
    )
    index.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine")
    index.add_argument(
        "--ef-search",
        type=cli.positive_int,
        default=128,
        help="hnsw: candidates kept while searching (recall vs speed)",
    )
    index.add_argument(
        "--nprobe",
        type=cli.positive_int,
        default=16,
        help="ivf: cells searched per query (recall vs speed)",
    )
    index.add_argument("--overwrite", action="store_true", help="replace an index at --index")
    index.add_argument(
        "--input-size",
        type=_size,
        metavar="HEIGHTxWIDTH",
        help="the size images are resized to before the SavedModel (default: read from it)",
    )
    return index


def _add_parser(commands):
    add = commands.add_parser("add", help="add a folder's new images to an index")
    add.add_argument("--images", required=True, help="folder of images (recursive)")
    _common(add, "the images' modality")
    _saved_model_argument(add)
    return add


def _query_parser(commands):
    query = commands.add_parser("query", help="rank the gallery for query images")
    query.add_argument("--images", required=True, nargs="+", help="query image files or folders")
    _common(query, "the query images' modality", folder=False)
    query.add_argument("--top-k", type=cli.positive_int, default=10, help="matches per query")
    query.add_argument("--json", required=True, help="the results JSON to write")
    query.add_argument("--html", help="also write this self-contained HTML page")
    query.add_argument(
        "--threshold",
        type=_distance,
        help="no-match distance (default: the calibrated one, if any)",
    )
    query.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking")
    query.add_argument(
        "--rerank-candidates",
        type=cli.positive_int,
        default=100,
        help="nearest images per query that re-ranking considers",
    )
    _saved_model_argument(query)
    return query


def _calibrate_parser(commands):
    calibrate = commands.add_parser("calibrate", help="choose the no-match threshold")
    calibrate.add_argument(
        "--images",
        required=True,
        help="a labelled split: SYSU-MM01 (or RegDB) root with both modalities",
    )
    _common(calibrate, "the query images' modality (the gallery's comes from the index)")
    calibrate.add_argument(
        "--target-fmr", type=_rate, default=0.05, help="false-match rate allowed (default 0.05)"
    )
    _saved_model_argument(calibrate)
    return calibrate


def _distance(text: str) -> float:
    value = _number(text)
    if value < 0.0:  # cosine's upper bound, 2, is checked once the index's metric is known
        raise argparse.ArgumentTypeError(f"must be a distance >= 0, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH, e.g. 288x144, got {text!r}"
        ) from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"sizes must be at least 1, got {text!r}")
    return height, width


def _rate(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


if __name__ == "__main__":
    main()
