"""tfreid: RGB-infrared cross-modality person re-identification in Keras 3 / TensorFlow."""

from setuptools import find_packages, setup

setup(
    name="tfreid",
    version="0.1.0",
    description="RGB-infrared cross-modality person re-identification with Keras 3 / TensorFlow",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfreid", "tfreid.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.3",
        "numpy",
        "pillow",
        "pyyaml",
        "scipy",
        "tqdm",
        "tensorboard",
    ],
    extras_require={
        # ruff: one minor version, whose formatting the tree follows (.ci/run checks it).
        "test": ["pytest", "pytest-xdist", "ruff>=0.17,<0.18"],
        "viz": ["matplotlib"],
        # tools/search.py: vector indexes (docs/search.md)
        "search": ["faiss-cpu>=1.8"],
        # tools/export.py --format onnx / tflite and their parity checks (docs/export.md)
        "export": ["tf2onnx>=1.17", "onnx", "onnxruntime>=1.17", "ai-edge-litert>=1.2"],
        # benchmarks/compare_pytorch.py only; a CPU build: pip install "torch==2.13.*"
        "benchmark": ["torch>=2.1"],
        # tools/convert_weights.py and `imagenet` on a torchvision backbone read PyTorch
        # checkpoints; never needed to train. Pinned: 2.13.0 is the CPU build CI installs.
        "convert": ["torch==2.13.0"],
    },
)
