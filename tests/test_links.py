"""fmnist_lib/links.py: what each page reads from its URL, and the notes for what it ignores."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmnist_lib import links
from fmnist_lib.config import TrainConfig
from tests.support.links import BAD_TRAIN_QUERIES


def test_train_reads_its_settings():
    q = links.read_query("train", {"model": "cnn", "lr": "10", "epochs": "3", "batch": "64", "seed": "7"})
    assert q.values == {"model": "cnn", "lr": 10.0, "epochs": 3, "batch": 64, "seed": 7}
    assert q.ignored == []


def test_a_number_is_matched_to_the_sliders_option():
    assert links.read_query("train", {"lr": "1e-1"}).values == {"lr": 0.1}
    assert links.read_query("softmax", {"t": "3.0"}).values == {"t": 3.0}


@pytest.mark.parametrize(("query", "note"), BAD_TRAIN_QUERIES, ids=[n[:14] for _, n in BAD_TRAIN_QUERIES])
def test_a_bad_parameter_is_ignored_with_a_note_naming_it(query, note):
    q = links.read_query("train", query)
    assert q.values == {}
    assert len(q.ignored) == 1 and q.ignored[0].startswith(note), q.ignored


def test_a_long_unknown_name_is_cut_in_its_note():
    q = links.read_query("train", {"a" * 500: "1"})
    assert len(q.ignored[0]) < 80


def test_good_and_bad_parameters_together():
    q = links.read_query("softmax", {"i": "4242", "t": "3", "shift": "999", "junk": "1"})
    assert q.values == {"i": 4242, "t": 3.0}
    assert [n.split(":")[0] for n in q.ignored] == ["shift=999", "junk"]


def test_an_unknown_page_reads_nothing():
    q = links.read_query("nope", {"lr": "10"})
    assert q.values == {} and q.ignored == ["lr: not a setting of this page"]


def test_upload_mirror_switch():
    assert links.read_query("upload", {"mirror": "off"}).values == {"mirror": False}
    assert links.read_query("upload", {"mirror": "ON"}).values == {"mirror": True}
    assert links.read_query("upload", {"mirror": "maybe"}).ignored


def test_upload_fill_switch():
    assert links.read_query("upload", {"fill": "off"}).values == {"fill": False}
    assert links.read_query("upload", {"fill": "on", "mirror": "off"}).values == {"fill": True, "mirror": False}
    assert links.read_query("upload", {"fill": "hollow"}).ignored
    assert links.link("upload", {"fill": False}) == "upload?fill=off"


def test_link_writes_what_read_query_reads_back():
    values = {"model": "softmax", "lr": 10.0, "epochs": 3, "seed": 7, "wd": 1e-4}
    url = links.link("train", values)
    assert url == "train?model=softmax&lr=10&epochs=3&wd=0.0001&seed=7"
    query = dict(pair.split("=") for pair in url.split("?")[1].split("&"))
    assert links.read_query("train", query).values == values


@pytest.mark.parametrize(
    "page, values, message",
    [
        ("nowhere", {}, "there is no page 'nowhere'"),
        ("train", {"colour": "red"}, "Train has no setting 'colour'"),
        ("train", {"lr": 0.15}, "lr=0.15: learning rate must be one of"),
        ("softmax", {"i": 10_000}, "i=10000: test image index must be a whole number from 0 to 9999"),
    ],
)
def test_link_refuses_what_a_page_does_not_offer(page, values, message):
    with pytest.raises(links.LinkError, match=message):
        links.link(page, values)


def test_train_defaults_are_a_valid_link_and_match_train_config():
    for model in ("softmax", "cnn"):
        d = links.train_defaults(model)
        links.link("train", d)  # does not raise
        config = TrainConfig(**{links.TRAIN_FIELDS[k]: v for k, v in d.items()}).validate()
        assert config.model == model
    assert links.link("") == ""


def test_the_readme_holds_the_parameter_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert links.markdown_table() in readme, "README's parameter table differs from links.PAGES: paste markdown_table()"


def test_page_defaults_are_values_the_page_offers():
    for page in links.PAGES:
        assert links.read_query(page, {}).values == {}
        links.query_string(page, links.defaults(page))  # raises LinkError if a default is not offered
    assert links.defaults("train", {"model": "cnn"}) == links.train_defaults("cnn")
