"""Invisible control characters made visible before any text reaches the report.

Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE, U+200F RIGHT-TO-LEFT MARK, the isolates U+2066–U+2069, …)
reorder what a reader sees without changing the bytes: an annotator called ``"\u202eelibom"`` is displayed as
"mobile", and a label can appear to be another. Escaping does not help (they are not markup), so every string from
a dataset, an annotation file or a model is passed through ``show_controls`` first and each control becomes a
visible ``⟨U+202E⟩`` — in HTML, Markdown and the charts alike. Zero-width characters that carry no meaning in names
(zero-width space, word joiner, a stray BOM) are shown the same way; ZWJ and ZWNJ are kept, since scripts such as
Persian and Devanagari and emoji sequences need them.
"""

from __future__ import annotations

import re

CONTROLS = ("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi
            "\u200b\u2060\ufeff")  # zero-width space, word joiner, byte-order mark
_RE = re.compile(f"[{CONTROLS}]")


def show_controls(text: str) -> str:
    """``text`` with every bidi or zero-width control replaced by a visible ``⟨U+XXXX⟩``."""
    if not _RE.search(text):
        return text
    return _RE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)
