"""Exports beside the SavedModel: ONNX and LiteRT (TFLite) files, each checked against the
SavedModel on the config's test images before it is written into place (docs/export.md)."""
