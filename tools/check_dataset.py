"""Opens every image of a SYSU-MM01 or RegDB tree; reports bad files and per-camera counts.

Exit status: 0 when every image decodes, 1 when some do not, 2 for bad arguments.
"""

import argparse
import sys

from tfreid.data.check import find_bad_images, layout_images
from tfreid.data.samples import DatasetError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="data set root directory")
    parser.add_argument("--format", choices=["sysu", "regdb"], required=True)
    args = parser.parse_args(argv)
    try:
        groups = layout_images(args.root, args.format)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    bad = find_bad_images([p for paths in groups.values() for p in paths], progress=True)
    for group, paths in groups.items():
        print(f"{group}: {len(paths)} images")
    for path, reason in bad:
        print(f"BAD {path}: {reason}")
    total = sum(len(p) for p in groups.values())
    print(f"{total} images, {len(bad)} bad")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
