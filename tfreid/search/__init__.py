"""Cross-modality gallery search on a SavedModel: folders of images embedded into an on-disk
index (faiss vectors, SQLite metadata), ranked queries with a calibrated "no match"
threshold, and an HTML page of the results (docs/search.md, tools/search.py)."""
