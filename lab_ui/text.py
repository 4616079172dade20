"""Text a user supplied (file names, class names from a checkpoint), made safe to put in Markdown."""

from __future__ import annotations

import re

# The characters that start inline Markdown (CommonMark's backslash escapes, which Streamlit honours):
# emphasis, code, links, HTML and entities, LaTeX ($), strike-through, and colour and icon directives
# (:red[...], :material/x:).
_INLINE = re.compile(r"([\\`*_\[\]<>$:~&])")
# What makes a heading, list, quote or rule only at the start of a line.
_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))")
# GitHub-flavoured Markdown turns bare URLs, www. names and e-mail addresses into links after escaping is
# undone (remark-gfm's autolink-literal transform works on the text itself), so no backslash can stop it:
# an invisible zero-width space where the pattern needs two characters side by side does.
_AUTOLINK = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*(?=://)|\bmailto(?=:)|\bwww(?=\.)|@)")
_ZWSP = "\u200b"


def plain(s: object, line_start: bool = False) -> str:
    """`s` as literal text inside Markdown: everything that could be inline markup is escaped, and
    line breaks become spaces (a name is one line), and a URL, www. name or e-mail address is broken by an
    invisible character so Markdown does not make it a link. `line_start`: `s` begins a line, so a leading
    `#`, `-`, `+`, `=` or `1.` is escaped too (it would make a heading or a list)."""
    text = _AUTOLINK.sub(lambda m: m.group(1) + _ZWSP, " ".join(str(s).splitlines()))
    text = _INLINE.sub(r"\\\1", text)
    if not line_start:
        return text
    return _LINE_START.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2).isdigit() else m.group(2) + "\\"), text
    )
