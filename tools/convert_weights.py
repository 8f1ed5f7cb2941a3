"""Converts a PyTorch checkpoint into a Keras weights file that model.pretrained_weights loads.

    python tools/convert_weights.py torchvision-resnet50 resnet50-0676ba61.pth OUT.h5
    python tools/convert_weights.py torchreid-mlfn mlfn-9cb5a267.pth.tar OUT.h5

torchvision-resnet50 is for model.backbone resnet50_torchvision (and gated_resnet50_torchvision,
HPILN's networks on it); torchreid-mlfn for model.network mlfn (docs/pretrained_weights.md).
Needs torch (pip install torch==2.13.0). Exit status: 0 success, 2 bad arguments, 1 other
failures (an unreadable checkpoint, keys of another network).
"""

import os

from tfreid import cli

KINDS = ("torchvision-resnet50", "torchreid-mlfn")


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS, help="the network the checkpoint holds")
    parser.add_argument("source", help="the PyTorch checkpoint (.pth, .pth.tar)")
    parser.add_argument("target", help="the Keras HDF5 weights file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing target")
    args = parser.parse_args()

    def run():
        from tfreid.files import check_writable

        if not os.path.isfile(args.source):
            raise FileNotFoundError(f"checkpoint {args.source} not found")
        if os.path.lexists(args.target) and not args.overwrite:
            raise cli.UsageError(f"{args.target} exists; pass --overwrite to replace it")
        check_writable(args.target, "target")
        from tfreid.models import convert

        if args.kind == "torchvision-resnet50":
            count = convert.convert_torchvision_resnet50(args.source, args.target)
        else:
            count = convert.convert_torchreid_mlfn(args.source, args.target)
        print(f"{args.target}: {count} layers from {args.source} ({args.kind})")

    cli.run(run)


if __name__ == "__main__":
    main()
