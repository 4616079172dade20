"""lab_ui/text.py: text a user supplied stays text inside Markdown, never a link, an image or markup."""

from __future__ import annotations

import re

import pytest

from lab_ui.text import plain

# The patterns GitHub-flavoured Markdown (remark-gfm, which Streamlit uses) turns into links by themselves.
GFM_URL = re.compile(r"(?i)(https?://|www(?=\.))[-.\w]+")
GFM_EMAIL = re.compile(r"[-.\w+]+@[-\w]+(\.[-\w]+)+")


@pytest.mark.parametrize(
    "name",
    [
        "https://example.com/evil.png",
        "see www.example.com now.jpg",
        "HTTP://EXAMPLE.COM",
        "ftp://files.example.org/x",
        "mail me@example.com.png",
        "mailto:me@example.com",
    ],
)
def test_a_url_or_address_in_a_name_is_not_autolinked(name):
    text = plain(name)
    assert not GFM_URL.search(text) and not GFM_EMAIL.search(text), text
    assert text.replace("\u200b", "").replace("\\", "") == name  # it reads the same


@pytest.mark.parametrize(
    "name",
    ["[click](https://example.com)", "![img](https://example.com/a.png)", "<img src=x onerror=alert(1)>"],
)
def test_link_image_and_html_syntax_is_escaped(name):
    text = plain(name)
    assert "\\[" in text or "\\<" in text
    assert "](" not in text.replace("\\]", "")
    assert not GFM_URL.search(text)


def test_markup_and_line_starts():
    assert plain("*bold* `code` $x$ :red[x]") == "\\*bold\\* \\`code\\` \\$x\\$ \\:red\\[x\\]"
    assert plain("# title", line_start=True) == "\\# title"
    assert plain("1. one", line_start=True) == "1\\. one"
    assert plain("two\nlines") == "two lines"


def test_ordinary_text_is_unchanged():
    assert plain("Ankle boot") == "Ankle boot"
    assert plain("Model: softmax") == "Model\\: softmax"
