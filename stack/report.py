"""The demo's report: a text table, summary.json rows, and a before/after contact sheet."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps


@dataclass(frozen=True, slots=True)
class Row:
    """One image's line in the table and in summary.json."""

    name: str
    status: str
    person_fraction: float | None
    latency_ms: float | None
    reason: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "person_fraction": self.person_fraction,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "reason": self.reason,
        }


def table(rows: list[Row]) -> str:
    """A fixed-width table: image, status, person fraction, latency (upload → result.json)."""
    header = ("image", "status", "person", "latency", "reason")
    lines = [
        (
            row.name,
            row.status,
            "-" if row.person_fraction is None else f"{row.person_fraction:.1%}",
            "-" if row.latency_ms is None else f"{row.latency_ms:,.0f} ms",
            _short(row.reason or "", 60),
        )
        for row in rows
    ]
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(4)]

    def fmt(cells: tuple[str, ...]) -> str:
        left = [
            cells[0].ljust(widths[0]),
            cells[1].ljust(widths[1]),
            cells[2].rjust(widths[2]),
            cells[3].rjust(widths[3]),
        ]
        return "  ".join([*left, cells[4]]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _thumbnail(data: bytes | None, height: int, placeholder: str) -> Image.Image:
    if data is not None:
        try:
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
            width = max(1, round(image.width * height / image.height))
            return image.resize((width, height), Image.Resampling.LANCZOS)
        except OSError:
            placeholder = "cannot be displayed"
    tile = Image.new("RGB", (height, height), (64, 64, 64))
    ImageDraw.Draw(tile).multiline_text(
        (10, height // 2 - 20), _wrap(placeholder, 28), fill=(230, 230, 230), font=_font(14)
    )
    return tile


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:4])


def contact_sheet(
    items: list[tuple[Row, bytes | None, bytes | None]], *, height: int = 240
) -> bytes:
    """PNG with one row per image: label, original, anonymized (or why there is none)."""
    pad, label_h = 12, 26
    rows = []
    for row, original, anonymized in items:
        before = _thumbnail(original, height, "original not readable")
        after = _thumbnail(anonymized, height, f"no anonymized image: {row.status}")
        rows.append((row, before, after))
    width = pad + max(b.width + pad + a.width for _, b, a in rows) + pad if rows else 400
    total_h = pad + sum(label_h + height + pad for _ in rows) + label_h
    sheet = Image.new("RGB", (width, total_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, pad // 2), "before  |  after", fill=(0, 0, 0), font=_font(16))
    y = pad + label_h
    for row, before, after in rows:
        fraction = "" if row.person_fraction is None else f", {row.person_fraction:.1%} person"
        draw.text((pad, y), f"{row.name}: {row.status}{fraction}", fill=(0, 0, 0), font=_font(16))
        y += label_h
        sheet.paste(before, (pad, y))
        sheet.paste(after, (pad + before.width + pad, y))
        y += height + pad
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
