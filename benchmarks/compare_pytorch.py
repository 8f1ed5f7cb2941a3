"""tfreid's training step against the same step in PyTorch, float32 and bfloat16, on this machine.

The step: ResNet-50 with last stride 1 at 288x144, 16 images (2 identities x (4 RGB + 4 IR)),
global average pooling, a BN neck and a bias-free classifier, identity loss + batch-hard
triplet (margin 0.3) on the pooled feature, SGD (momentum 0.9, weight decay 5e-4). tfreid runs
its training step (the softmax method, as training builds it: `build_training`, one device, in
the variant's `train.mixed_precision`); PyTorch runs a plain eager
step of the same network, written here layer for layer in the keras.applications layout
tfreid uses (stride in the first 1x1 convolution, convolution biases), so both do the same
arithmetic: the script checks that the parameter counts are equal. Variants: tfreid float32
(`train.mixed_precision=none`), tfreid bfloat16, PyTorch float32, PyTorch bfloat16
(`torch.autocast("cpu", torch.bfloat16)` around the forward pass and the losses).

Each variant lives in its own worker process (no framework's thread pool disturbs another's);
the workers run their steps in turn, round after round, so every round compares the variants
under the same machine load. Prints images/s per variant (median over rounds) and, last,
the median over rounds of the per-round ratios of tfreid's default policy
(`train.mixed_precision=auto`) to each PyTorch variant.

PyTorch is a benchmark-only dependency: `pip install "torch==2.13.*"` (a CPU build; here it
installs from the local wheel) or `pip install -e ".[benchmark]"`.

    python benchmarks/compare_pytorch.py [--rounds 7] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

IDS, PER_MODALITY, CLASSES = 2, 4, 395
BATCH = 2 * IDS * PER_MODALITY
VARIANTS = ("tfreid_fp32", "tfreid_bf16", "pytorch_fp32", "pytorch_bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating timed rounds")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--height", type=int, default=288)
    parser.add_argument("--width", type=int, default=144)
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        serve(args.worker, args)
        return
    workers = {name: start(name, args) for name in VARIANTS}
    counts = {name: ask(worker, "params") for name, worker in workers.items()}
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the networks differ: parameter counts {counts}")
    default = default_variant()
    rates = {name: [] for name in VARIANTS}
    for round_index in range(args.rounds):
        for name, worker in workers.items():
            seconds = ask(worker, f"run {args.steps}")
            rates[name].append(BATCH * args.steps / seconds)
        line = "  ".join(f"{n} {rates[n][-1]:6.2f}" for n in VARIANTS)
        print(f"round {round_index + 1}: images/s  {line}", flush=True)
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    report(rates, default, counts[default], args)


def default_variant() -> str:
    from tfreid.training.precision import resolve

    return "tfreid_bf16" if resolve("auto") == "bfloat16" else "tfreid_fp32"


def report(rates: dict, default: str, params: int, args) -> None:
    print(
        f"\n{params:,} parameters, batch {BATCH} at {args.height}x{args.width}, "
        f"{args.rounds} rounds x {args.steps} steps, {os.cpu_count()} CPUs; tfreid's default "
        f"policy here: {default}"
    )
    for name in VARIANTS:
        print(f"  {name:<13} {statistics.median(rates[name]):7.2f} images/s (median)")
    ratios = {
        other: statistics.median(a / b for a, b in zip(rates[default], rates[other]))
        for other in ("pytorch_fp32", "pytorch_bf16")
    }
    print(
        f"tfreid default / pytorch fp32 = {ratios['pytorch_fp32']:.2f}, "
        f"tfreid default / pytorch bf16 = {ratios['pytorch_bf16']:.2f}"
    )


def start(name: str, args) -> subprocess.Popen:
    command = [sys.executable, os.path.abspath(__file__), "--worker", name]
    command += [
        "--warmup",
        str(args.warmup),
        "--height",
        str(args.height),
        "--width",
        str(args.width),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )


def ask(worker: subprocess.Popen, command: str):
    worker.stdin.write(command + "\n")
    worker.stdin.flush()
    line = worker.stdout.readline()
    if not line:
        raise SystemExit(f"a worker stopped (command {command!r}); see its error above")
    return json.loads(line)


def serve(name: str, args) -> None:
    """Worker: builds the step, warms it up, then answers "params" and "run N" on stdin."""
    build = tfreid_step if name.startswith("tfreid") else pytorch_step
    step, params = build(name.endswith("bf16"), args.height, args.width)
    for _ in range(args.warmup):
        step()
    for line in sys.stdin:
        command = line.split()
        if command[0] == "params":
            answer = params
        else:
            start_time = time.perf_counter()
            for _ in range(int(command[1])):
                step()
            answer = time.perf_counter() - start_time
        print(json.dumps(answer), flush=True)


def tfreid_step(bfloat16: bool, height: int, width: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tfreid  # noqa: F401, I001  (oneDNN kernels on before TensorFlow starts)
    import numpy as np
    import tensorflow as tf

    from tfreid.config import load_config
    from tfreid.training.distribute import choose_strategy
    from tfreid.training.step import build_training

    policy = "bfloat16" if bfloat16 else "none"
    cfg = load_config(
        None,
        [
            "model.backbone=resnet50",
            "model.last_stride=1",
            "model.head=bnneck",
            f"data.height={height}",
            f"data.width={width}",
            "method.params.triplet_weight=1",
            f"train.mixed_precision={policy}",
            "runtime.strategy=one_device",
        ],
    )
    # The schedule's length (one-step epochs here) does not change what a step costs.
    training = build_training(cfg, CLASSES, choose_strategy(cfg.runtime.strategy), 1)
    rng = np.random.default_rng(0)
    pid = tf.constant(np.repeat([3, 7], PER_MODALITY), tf.int32)
    shape = (IDS * PER_MODALITY, height, width, 3)
    batch = {
        m: {"image": tf.constant(rng.normal(size=shape), tf.float32), "pid": pid}
        for m in ("rgb", "ir")
    }

    def step():
        float(training.step(batch)["loss/total"])

    return step, int(training.parts.nets["model"].count_params())


def pytorch_step(bfloat16: bool, height: int, width: int):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    net = TorchReID(CLASSES)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(BATCH, 3, height, width)
    labels = torch.tensor(([3] * PER_MODALITY + [7] * PER_MODALITY) * 2)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            features, logits = net(images)
            loss = F.cross_entropy(logits.float(), labels) + batch_hard(features.float(), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        float(loss.detach())

    # Trainable parameters and moving statistics, as Keras counts them (the neck's frozen
    # bias is a constant 0: Keras's neck has none).
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    statistics_ = sum(b.numel() for b in net.buffers() if b.dtype.is_floating_point)
    return step, trainable + statistics_


def batch_hard(features, labels, margin: float = 0.3):
    import torch

    distances = torch.cdist(features, features)
    same = labels[:, None] == labels[None, :]
    positive = distances.masked_fill(~same, 0.0).max(dim=1).values
    negative = distances.masked_fill(same, float("inf")).min(dim=1).values
    return torch.relu(margin + positive - negative).mean()


def TorchReID(classes: int):  # noqa: N802  (builds a torch module, imported lazily)
    """ResNet-50 (keras.applications layout, last stride 1) + BN neck + bias-free classifier."""
    import torch
    from torch import nn

    def conv_bn(cin, cout, kernel, stride=1):
        padding = kernel // 2 if kernel > 1 else 0
        return nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout, eps=1.001e-5)
        )

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride, project):
            super().__init__()
            self.reduce = conv_bn(cin, width, 1, stride)  # the stride sits here, as in Keras
            self.spatial = conv_bn(width, width, 3)
            self.expand = conv_bn(width, 4 * width, 1)
            self.shortcut = conv_bn(cin, 4 * width, 1, stride) if project else nn.Identity()

        def forward(self, x):
            y = torch.relu(self.reduce(x))
            y = torch.relu(self.spatial(y))
            return torch.relu(self.shortcut(x) + self.expand(y))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                nn.ZeroPad2d(3),
                nn.Conv2d(3, 64, 7, 2),
                nn.BatchNorm2d(64, eps=1.001e-5),
                nn.ReLU(),
                nn.ZeroPad2d(1),
                nn.MaxPool2d(3, 2),
            )
            blocks, cin = [], 64
            for width, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 1)):
                for index in range(count):
                    blocks.append(Bottleneck(cin, width, stride if index == 0 else 1, index == 0))
                    cin = 4 * width
            self.blocks = nn.Sequential(*blocks)
            self.neck = nn.BatchNorm1d(2048, eps=1.001e-5, affine=True)
            self.neck.bias.requires_grad_(False)
            self.classifier = nn.Linear(2048, classes, bias=False)

        def forward(self, x):
            pooled = self.blocks(self.stem(x)).mean(dim=(2, 3))
            return pooled, self.classifier(self.neck(pooled))

    return Net()


if __name__ == "__main__":
    main()
