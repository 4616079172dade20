"""What an image file's header says, read from its bytes before Pillow decodes anything.

Pillow refuses a broken PNG header with one catch-all error and decodes a JPEG whose scan data
ends early as if it were whole (libjpeg fills the rest with grey and only warns), so these checks
give each fault its own sentence. Each returns a message for the user, or None when all is well;
decode.py raises it as ImageError.

- png_header_problem(data): PNG's IHDR chunk, field by field.
- png_chunks_problem(data): the chunks up to the image data, when Pillow could not read them.
- jpeg_frame(data): a JPEG's frame header (size, components, coding) and where its scan data starts.
- jpeg_scan_problem(frame, data): a JPEG whose header claims more pixels than its scan data can hold.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour type -> (its name, the bit depths the PNG standard allows for it).
_PNG_COLOUR_TYPES = {
    0: ("a greyscale", (1, 2, 4, 8, 16)),
    2: ("an RGB", (8, 16)),
    3: ("a palette", (1, 2, 4, 8)),
    4: ("a greyscale-with-alpha", (8, 16)),
    6: ("an RGB-with-alpha", (8, 16)),
}
_PNG_MAX_SIDE = 2**31 - 1


def png_header_problem(data: bytes) -> str | None:
    """Why a PNG's IHDR chunk (bytes 8-33) cannot be right, or None."""
    if len(data) < 33:
        return PNG_TRUNCATED
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        return "This PNG is damaged: it does not begin with its header chunk (IHDR)."
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        return (
            "This PNG is damaged: its header chunk (IHDR) fails its checksum, so its size and colours "
            "cannot be trusted."
        )
    w, h, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if w == 0 or h == 0:
        return f"This PNG has no pixels: its header says {w}×{h}."
    if w > _PNG_MAX_SIDE or h > _PNG_MAX_SIDE:
        return f"This PNG is damaged: its header says {w}×{h}, beyond the largest size a PNG can have."
    if colour not in _PNG_COLOUR_TYPES:
        return f"This PNG is damaged: its header gives colour type {colour}, which PNG does not have (0, 2, 3, 4 or 6)."
    name, depths = _PNG_COLOUR_TYPES[colour]
    if depth not in depths:
        allowed = ", ".join(map(str, depths))
        return (
            f"This PNG is damaged: its header gives {depth} bits per sample for {name} image, "
            f"which PNG does not allow ({allowed})."
        )
    for what, value, allowed in (
        ("compression", compression, (0,)),
        ("filter", filtering, (0,)),
        ("interlace", interlace, (0, 1)),
    ):
        if value not in allowed:
            return f"This PNG is damaged: its header gives {what} method {value}, which PNG does not have."
    return None


PNG_TRUNCATED = "This PNG is truncated: the file ends before the image data does."


def png_chunks_problem(data: bytes) -> str | None:
    """Why a PNG's chunks after a sound IHDR cannot be read up to its image data (IDAT), or None.

    Only called once Pillow has refused the file, whose own reason ("broken PNG file (chunk b'IDA')")
    is not for users; it walks the chunks Pillow had to read before the pixels."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if not kind.isalpha():
            return f"This PNG is damaged: at byte {pos} there should be a chunk, but its name is not a name."
        end = pos + 12 + length
        if end > len(data):
            return PNG_TRUNCATED
        if zlib.crc32(data[pos + 4 : end - 4]) != struct.unpack(">I", data[end - 4 : end])[0]:
            return f"This PNG is damaged: its {kind.decode()} chunk fails its checksum."
        if kind in (b"IDAT", b"IEND"):
            return None
        pos = end
    return PNG_TRUNCATED


@dataclass(frozen=True)
class JpegFrame:
    """A JPEG's frame header (SOF): what the scan data that follows must fill."""

    width: int
    height: int  # 0 when a DNL marker after the first scan gives it (rare)
    sampling: tuple[tuple[int, int], ...]  # (horizontal, vertical) sampling factor of each component
    marker: int  # 0xC0 baseline, 0xC1 extended, 0xC2 progressive, others arithmetic, lossless or hierarchical
    scan_start: int  # offset of the first scan's entropy-coded data

    @property
    def progressive(self) -> bool:
        return self.marker in (0xC2, 0xC6, 0xCA, 0xCE)

    def blocks(self) -> int:
        """The 8×8 blocks of all components: each is coded at least once in the scans."""
        hmax = max(hs for hs, _ in self.sampling)
        vmax = max(vs for _, vs in self.sampling)
        return sum(
            math.ceil(math.ceil(self.width * hs / hmax) / 8) * math.ceil(math.ceil(self.height * vs / vmax) / 8)
            for hs, vs in self.sampling
        )


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC share the range


def jpeg_frame(data: bytes) -> JpegFrame | None:
    """The frame header and the first scan's start, walking the marker segments; None if they are not found
    (Pillow then says what is wrong)."""
    pos, frame = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # segments without a length
            pos += 2
            continue
        if marker == 0xD9:  # end of image before any scan
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos + 4 : pos + 2 + length]
        if marker in _SOF_MARKERS and len(segment) >= 6:
            height, width, count = struct.unpack(">HHB", segment[1:6])
            comps = segment[6 : 6 + 3 * count]
            if count < 1 or len(comps) < 3 * count:
                return None
            sampling = tuple((comps[3 * i + 1] >> 4, comps[3 * i + 1] & 15) for i in range(count))
            if any(hs < 1 or vs < 1 for hs, vs in sampling):
                return None
            frame = (width, height, sampling, marker)
        if marker == 0xDA:  # start of scan: its entropy-coded data follows the segment
            if frame is None:
                return None
            return JpegFrame(*frame, scan_start=pos + 2 + length)
        pos += 2 + length
    return None


def jpeg_scan_problem(frame: JpegFrame, data: bytes) -> str | None:
    """Why a JPEG's scan data cannot be the whole image its header claims, or None.

    With Huffman coding (nearly every JPEG) each 8×8 block takes at least 2 bits in a sequential
    scan (its DC difference and an end-of-block code) and at least 1 bit in a progressive one (its
    DC), so a file with fewer bytes after its first scan header than that was cut short or altered.
    Arithmetic-coded, lossless and hierarchical JPEGs have no such floor and are not checked.
    """
    bits_per_block = {0xC0: 2, 0xC1: 2, 0xC2: 1}.get(frame.marker)
    if bits_per_block is None or frame.height == 0:
        return None
    end = data.rfind(b"\xff\xd9")
    available = (end if end >= frame.scan_start else len(data)) - frame.scan_start
    needed = math.ceil(frame.blocks() * bits_per_block / 8)
    if available >= needed:
        return None
    return (
        f"This JPEG is damaged: its header says {frame.width}×{frame.height} pixels, but it holds only "
        f"{_size(available)} of image data, and an image that size needs at least {_size(needed)}. "
        "It was cut short or altered."
    )


def _size(n: int) -> str:
    return f"{n} bytes" if n < 10_000 else f"{n / 1000:.0f} KB"
