"""Colour constants shared by the model's gray encodings and the synthetic-data generator."""

# ITU-R BT.601 luminance weights of (R, G, B): the usual RGB -> gray conversion.
LUMINANCE = (0.299, 0.587, 0.114)
