"""Write the frames `models.quantize` calibrates int8 activation ranges on: halls rendered from real
photographs of people by the evaluation set's scene code, with seeds, zoom, light and colour casts of
their own (none of the evaluation clips' seeds), as JPEG. Run from the repository root:

    python -m tools.calibration
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

from tools.evaluate.hallscene import ClipSpec, Hall

HERE = Path(__file__).resolve().parents[1] / "models" / "calibration"

# (seed, zoom, gain, cast, noise, initial queue): 8 halls x 3 moments = 24 frames.
HALLS = (
    (9001, 1.0, 1.0, (1.0, 1.0, 1.0), 3.0, 3),
    (9002, 0.6, 0.9, (1.0, 1.0, 1.0), 4.0, 5),
    (9003, 1.3, 1.1, (1.0, 1.0, 1.0), 3.0, 2),
    (9004, 0.8, 0.55, (1.0, 1.0, 1.0), 8.0, 4),
    (9005, 1.0, 1.3, (0.8, 1.0, 1.2), 3.0, 3),
    (9006, 0.7, 0.7, (1.15, 1.0, 0.85), 5.0, 6),
    (9007, 1.1, 1.0, (1.0, 1.05, 0.95), 2.0, 1),
    (9008, 0.9, 0.8, (1.0, 1.0, 1.0), 6.0, 7),
)
MOMENTS_S = (0, 20, 45)
JPEG_QUALITY = 75


def main() -> int:
    for old in HERE.glob("*.jpg"):
        old.unlink()
    for seed, zoom, gain, cast, noise, queue in HALLS:
        spec = ClipSpec(f"calibration-{seed}", seed=seed, duration_s=max(MOMENTS_S) + 1, windows=2 + seed % 2,
                        zoom=zoom, gain=gain, cast=cast, noise=noise, initial_queue=queue, arrivals_per_min=6,
                        passers_per_min=2, still=False)
        hall = Hall.build(spec)
        for index in range(max(MOMENTS_S) * spec.fps + 1):
            if index:
                hall.step()
            if index % spec.fps == 0 and index // spec.fps in MOMENTS_S:
                path = HERE / f"hall-{seed}-{index // spec.fps:02d}s.jpg"
                cv2.imwrite(str(path), hall.render(), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    print(f"wrote {len(list(HERE.glob('*.jpg')))} frames to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
