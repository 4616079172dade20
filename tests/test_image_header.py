"""fmnist_lib.images.image_header: each fault of a PNG header gets its own sentence, and a JPEG's scan data
is checked against the size its frame header claims, on files made here."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from fmnist_lib.images.image_header import jpeg_frame, jpeg_scan_problem, png_chunks_problem, png_header_problem
from tests.support.images import encode, garment, jpeg_claiming, png_with_chunk, png_with_header


def test_a_sound_png_header_has_no_problem():
    assert png_header_problem(encode(garment(), "PNG")) is None
    for depth, colour in [(1, 0), (16, 0), (8, 2), (16, 2), (4, 3), (8, 4), (16, 6)]:
        assert png_header_problem(png_with_header(bit_depth=depth, colour_type=colour)) is None


@pytest.mark.parametrize(
    "png, message",
    [
        (png_with_header(bad_crc=True), "its header chunk (IHDR) fails its checksum"),
        (png_with_header(width=0), "no pixels: its header says 0×10"),
        (png_with_header(height=0), "no pixels: its header says 10×0"),
        (png_with_header(bit_depth=3), "3 bits per sample for a greyscale image, which PNG does not allow"),
        (png_with_header(bit_depth=4, colour_type=2), "4 bits per sample for an RGB image"),
        (png_with_header(colour_type=5), "colour type 5, which PNG does not have"),
        (png_with_header()[:30], "This PNG is truncated"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "does not begin with its header chunk (IHDR)"),
    ],
    ids=["checksum", "width-0", "height-0", "depth-3", "rgb-depth-4", "colour-type-5", "cut", "no-ihdr"],
)
def test_each_png_header_fault_has_its_own_message(png, message):
    problem = png_header_problem(png)
    assert problem is not None and message in problem
    assert "truncated" not in problem or message == "This PNG is truncated"


def test_png_interlace_method_2_is_named():
    png = png_with_header()
    ihdr = struct.pack(">IIBBBBB", 10, 10, 8, 0, 0, 0, 2)
    png = png[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + png[33:]
    assert "interlace method 2" in png_header_problem(png)


def test_png_chunks_a_bad_checksum_and_a_cut_are_told_apart():
    png = png_with_chunk(b"tEXt", b"Comment\x00hello")
    assert png_chunks_problem(png) is None
    bad = bytearray(png)
    bad[33 + 8] ^= 0xFF  # a byte of the tEXt chunk's data: its CRC no longer matches
    assert png_chunks_problem(bytes(bad)) == "This PNG is damaged: its tEXt chunk fails its checksum."
    assert "truncated" in png_chunks_problem(png[:40])


def test_jpeg_frame_reads_size_sampling_and_coding():
    baseline = jpeg_frame(encode(garment(), "JPEG", quality=90))  # 240×200, 4:2:0
    assert (baseline.width, baseline.height) == (240, 200)
    assert baseline.sampling == ((2, 2), (1, 1), (1, 1)) and not baseline.progressive
    assert baseline.blocks() == 30 * 25 + 2 * 15 * 13
    progressive = jpeg_frame(encode(garment(), "JPEG", progressive=True))
    assert progressive.progressive
    assert jpeg_frame(b"\xff\xd8\xff\xd9") is None


@pytest.mark.parametrize(
    "image, options",
    [
        (garment(), {"quality": 90}),
        # one colour with optimised Huffman tables: 2 bits per block, right at the floor
        (Image.new("L", (4000, 4000), 0), {"optimize": True}),
        (Image.new("RGB", (3000, 2000), (10, 200, 30)), {"optimize": True, "subsampling": 0}),
        (Image.new("L", (3000, 2000), 200), {"progressive": True}),
        (Image.new("CMYK", (1000, 1000), (10, 200, 30, 0)), {"progressive": True}),
    ],
    ids=["garment", "grey-optimised", "rgb-444-optimised", "grey-progressive", "cmyk-progressive"],
)
def test_whole_jpegs_pass_the_scan_data_floor(image, options):
    data = encode(image, "JPEG", **options)
    assert jpeg_scan_problem(jpeg_frame(data), data) is None


def test_a_jpeg_claiming_more_pixels_than_its_scan_data_holds_is_damaged():
    data = jpeg_claiming((7000, 7000))
    problem = jpeg_scan_problem(jpeg_frame(data), data)
    assert problem is not None
    assert problem.startswith("This JPEG is damaged: its header says 7000×7000 pixels")
    assert "at least 287 KB" in problem
