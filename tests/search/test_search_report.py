"""The query page: one self-contained HTML file (nothing loaded from elsewhere)."""

import base64
import glob
import io
import os
from html.parser import HTMLParser

from PIL import Image

from tfreid.search import commands
from tfreid.search.vectors import VectorSettings

RGB, IR = 0, 1


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.sources = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        for name in ("src", "href"):
            if name in attrs:
                self.sources.append(attrs[name])


def test_the_page_is_self_contained_and_frames_right_and_wrong_matches(
    saved_model, sysu_set, tmp_path
):
    index = str(tmp_path / "idx")
    commands.build(saved_model, os.path.join(sysu_set, "cam1"), RGB, index, VectorSettings())
    queries = sorted(glob.glob(os.path.join(sysu_set, "cam3", "*", "*.jpg")))[::30]
    entries = commands.search(
        index, queries, IR, 4, str(tmp_path / "r.json"), str(tmp_path / "r.html"), threshold=0.5
    )
    page = (tmp_path / "r.html").read_text()
    parser = Collector()
    parser.feed(page)
    assert not {"script", "link", "iframe", "object"} & set(parser.tags)
    assert "url(" not in page and "http" not in page
    assert len(parser.sources) == len(queries) * 5  # the query and its 4 matches, per row
    for source in parser.sources:
        assert source.startswith("data:image/jpeg;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert image.size == (64 + 6, 128 + 6)  # thumbnail and its frame
    assert page.count("<tr>") == len(queries)
    assert page.count("no match</div>") == sum(entry["no_match"] for entry in entries)
    right = sum(
        m["id"] == int(q.split("/")[-2]) for e, q in zip(entries, queries) for m in e["matches"]
    )
    assert right == _framed(parser, (0, 170, 0)), "green frames are the query's own id"


def _framed(parser, colour) -> int:
    """Thumbnails whose frame (top-left pixel) has `colour`, queries excluded."""
    count = 0
    for source in parser.sources:
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB")
        if all(abs(a - b) < 40 for a, b in zip(image.getpixel((0, 0)), colour)):
            count += 1
    return count
