"""The HTML page of a query run: each query with its ranked matches, in one self-contained
file (thumbnails inlined as base64 JPEG; no scripts, styles or images from elsewhere)."""

from __future__ import annotations

import base64
import functools
import html
import io
import os

from tfreid.data.samples import MODALITY_NAMES, Sample
from tfreid.figures.ranked_lists import MATCH_COLOUR, MISMATCH_COLOUR, QUERY_COLOUR, thumbnail
from tfreid.files import atomic_write

UNKNOWN_COLOUR = (150, 150, 150)
THUMBNAIL = (64, 128)  # width, height
_STYLE = """
body { font-family: sans-serif; font-size: 12px; margin: 16px; }
table { border-collapse: collapse; }
td { vertical-align: top; text-align: center; padding: 4px; }
td.query { border-right: 2px solid #444; }
.nomatch { color: #b00; font-weight: bold; }
.path { max-width: 90px; overflow-wrap: anywhere; color: #555; }
"""


def write_html(
    path: str, entries: list[dict], queries: list[Sample], title: str, threshold: float | None
) -> None:
    """Writes the page for `entries` (`tfreid.search.query.entries`) of `queries`.

    Matches are framed green when their id is the query's, red when it is another, grey when
    either id is unknown (images outside the SYSU-MM01 / RegDB layouts).
    """
    rows = [_row(entry, query) for entry, query in zip(entries, queries, strict=True)]
    rule = "none" if threshold is None else f"{threshold:.4f}"
    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>\n<h3>{html.escape(title)}</h3>\n"
        f"<p>{len(entries)} queries; no-match threshold: {rule}. Frames: green the query's "
        "id, red another id, grey unknown.</p>\n<table>\n" + "\n".join(rows) + "\n</table>\n"
        "</body></html>\n"
    )
    atomic_write(path, lambda f: f.write(page))


def _row(entry: dict, query: Sample) -> str:
    verdict = "<div class='nomatch'>no match</div>" if entry["no_match"] else ""
    cells = [
        f"<td class='query'>{_image(query.path, QUERY_COLOUR)}<div>query, "
        f"{MODALITY_NAMES[query.modality]}, id {_id(query.pid)}</div>"
        f"<div class='path'>{html.escape(os.path.basename(entry['query']))}</div>{verdict}</td>"
    ]
    for rank, match in enumerate(entry["matches"], start=1):
        if query.pid is None or match["id"] is None:
            colour = UNKNOWN_COLOUR
        else:
            colour = MATCH_COLOUR if match["id"] == query.pid else MISMATCH_COLOUR
        reranked = match.get("reranked_distance")
        extra = "" if reranked is None else f"<div>re-ranked {reranked:.4f}</div>"
        cells.append(
            f"<td title='{html.escape(match['path'], quote=True)}'>{_image(match['path'], colour)}"
            f"<div>#{rank} d={match['distance']:.4f}</div>{extra}<div>id {_id(match['id'])}</div>"
            f"<div class='path'>{html.escape(os.path.basename(match['path']))}</div></td>"
        )
    return "<tr>" + "".join(cells) + "</tr>"


def _id(pid) -> str:
    return "?" if pid is None else str(pid)


@functools.lru_cache(maxsize=4096)
def _image(path: str, colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    thumbnail(path, THUMBNAIL, colour, border=3).save(buffer, format="JPEG", quality=85)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='' src='data:image/jpeg;base64,{data}'>"
