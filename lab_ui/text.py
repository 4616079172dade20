"""Text a user supplied (file names, class names from a checkpoint), made safe to put in Markdown."""

from __future__ import annotations

import re

# CommonMark's backslash escapes, which Streamlit's Markdown honours: emphasis, links, code,
# headings, tables, HTML, LaTeX ($), colour and icon directives (:red[...], :material/x:).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:&=\"'])")


def plain(s: object) -> str:
    """`s` as literal text inside Markdown: every character that could mean markup is escaped,
    and line breaks become spaces (a name is one line)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(s).splitlines()))
