"""Checks a SYSU-MM01, RegDB or LLCM tree as training and evaluation will read it.

Every image is read with the input pipeline's own decoder (so a file that passes here is one
training and evaluation can read), and the split files are read as the training and test
protocol read them (SYSU-MM01: exp/{train,val,test}_id.txt and rand_perm_cam.mat; RegDB: every
idx/ file; LLCM: idx/train_{vis,nir}.txt and idx/test_id.txt against the test_{vis,nir}
folders). Files that are not regular files and names that are not UTF-8 are reported without
being opened, images above the pixel limit without being decoded. Prints per-camera counts and
one line per problem. Exit status: 0 when everything is usable, 1 when something is not, 2 for
bad arguments (including a root that is missing).
"""

from tfreid import cli
from tfreid.config import MAX_IMAGE_PIXELS


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="data set root directory")
    parser.add_argument("--format", choices=["sysu", "regdb", "llcm"], required=True)
    parser.add_argument(
        "--max-image-pixels",
        type=cli.positive_int,
        default=MAX_IMAGE_PIXELS,
        help="refuse images of more pixels, from their header (data.max_image_pixels; "
        "default %(default)s)",
    )
    args = parser.parse_args()

    def run():
        from tfreid.data.check import describe, find_bad_images, layout_images, split_problems
        from tfreid.data.samples import DatasetError
        from tfreid.errors import shown_path

        try:
            groups = layout_images(args.root, args.format)
        except DatasetError as err:
            raise cli.UsageError(str(err)) from None
        problems = split_problems(args.root, args.format)
        images = [path for paths in groups.values() for path in paths]
        bad = find_bad_images(images, progress=True, max_pixels=args.max_image_pixels)
        for group, paths in groups.items():
            print(f"{group}: {len(paths)} images")
        for path, reason in bad:
            print(f"BAD {shown_path(path)}: {reason}")
        for problem in problems:
            print(f"BAD SPLIT {problem}")
        total = sum(len(p) for p in groups.values())
        print(f"{total} images, {len(bad)} bad; {len(problems)} split problem(s)")
        if bad:
            raise DatasetError(f"{len(bad)} of {total} images cannot be read: {describe(bad, 1)}")
        if problems:
            raise DatasetError(f"{len(problems)} split problem(s), the first: {problems[0]}")

    cli.run(run)


if __name__ == "__main__":
    main()
