"""An officer's photo is checked by the decoder of its own type, whatever else the process imported:
Ultralytics patches PIL.Image.open to install packages when it meets an image it cannot identify, and
a corrupt upload must be refused, not make the server try to install anything."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from storage.records.officers import PhotoError, check_photo


def encoded(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_a_corrupt_photo_is_refused_after_ultralytics_patched_pil(kind: str) -> None:
    import ultralytics.utils.patches  # noqa: F401  (patches PIL.Image.open on import)

    good = encoded(kind)
    assert check_photo(good).content_type == f"image/{kind.lower()}"
    corrupt = good[:16] + b"\x00" * 64  # the magic bytes of the type, then nothing an image decoder accepts
    with pytest.raises(PhotoError, match="not a readable image"):
        check_photo(corrupt)
