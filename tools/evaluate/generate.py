"""Generate the evaluation set: `python -m tools.evaluate.generate [--out eval] [--only CLIP ...]`.

Deterministic: the same specs give the same clips (seeded simulation and noise; x264 with one
thread). Each clip directory gets video.mp4 (H.264 by PyAV), site.yaml (one hall, one camera with
the clip's zones) and truth.json (per-second truth and per-person queue visits, see eval/README.md);
eval/dataset.yaml lists the clips and the subsets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import yaml

from tools.evaluate.hallscene import HEIGHT, WIDTH, ClipSpec, Hall

EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"

CRF = 30

CLIPS: tuple[ClipSpec, ...] = (
    # CI subset: under a minute of video in total.
    ClipSpec("ci-still-officers", seed=101, duration_s=30, subset="ci", windows=2, initial_queue=3,
             arrivals_per_min=6, officers_leave=False, still=True,
             description="two seated, still officers all along; a queue of 1-5 people; a kiosk user"),
    ClipSpec("ci-officer-away", seed=102, duration_s=28, subset="ci", windows=1, zoom=0.8, gain=0.85, noise=4,
             initial_queue=1, arrivals_per_min=3, kiosk_per_min=3, still=False, away=((0, 9.0, 19.0),),
             description="one officer who sways and is away from 9 s to 19 s; smaller people; dimmer light"),
    # The full set.
    ClipSpec("crowded-queue", seed=201, duration_s=180, windows=3, initial_queue=6, arrivals_per_min=9,
             service_s=(12, 30), max_queue=8, still=True,
             description="three windows, a two-row queue of up to 8 people partly hiding each other"),
    ClipSpec("small-people", seed=202, duration_s=120, windows=3, zoom=0.6, initial_queue=3, arrivals_per_min=5,
             description="a wide view: people 40 % smaller, officers about 80 px tall above the counter"),
    ClipSpec("large-people", seed=203, duration_s=90, windows=1, zoom=1.25, initial_queue=2, arrivals_per_min=3,
             still=False, description="a close view of one window, people large in frame, officer sways"),
    ClipSpec("dark-noisy", seed=204, duration_s=90, windows=2, gain=0.55, noise=8, max_kbps=400, initial_queue=2,
             arrivals_per_min=4, description="a dim hall with heavy sensor noise, at a camera's capped bitrate"),
    ClipSpec("warm-cast-bright", seed=205, duration_s=90, windows=2, gain=1.25, cast=(0.8, 1.0, 1.2),
             arrivals_per_min=4, description="over-exposed, tungsten-orange colour cast"),
    ClipSpec("passers-and-visitors", seed=206, duration_s=150, windows=3, passers_per_min=6, counter_visits=2,
             arrivals_per_min=4, still=False,
             description="people walking through the queue zone, citizens waiting at unstaffed counters"),
    ClipSpec("after-hours", seed=207, duration_s=90, windows=2, after_hours=True, gain=0.7, cast=(1.1, 1.0, 0.9),
             initial_queue=0, arrivals_per_min=0, kiosk_per_min=4,
             description="windows closed, cool night light, only the self-service area in use"),
    ClipSpec("long-queue-waits", seed=208, duration_s=240, windows=2, initial_queue=4, arrivals_per_min=5,
             service_s=(15, 30), officers_leave=False, still=True,
             description="four minutes of steady queueing for per-minute waiting times"),
)


def write_clip(spec: ClipSpec, root: Path) -> dict[str, object]:
    """Render, encode and describe one clip; returns its entry for dataset.yaml."""
    directory = root / "clips" / spec.id
    directory.mkdir(parents=True, exist_ok=True)
    hall = Hall.build(spec)
    seconds: list[dict[str, object]] = []
    frames = spec.duration_s * spec.fps
    with av.open(str(directory / "video.mp4"), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = Fraction(1, spec.fps)
        stream.options = {"crf": str(CRF), "preset": "slow", "threads": "1", "g": str(spec.fps * 10)}
        if spec.max_kbps:
            stream.options |= {"maxrate": f"{spec.max_kbps}k", "bufsize": f"{2 * spec.max_kbps}k"}
        for index in range(frames):
            if index:
                hall.step()
            image = hall.render()
            if index % spec.fps == 0:
                seconds.append(hall.truth())
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    site = {
        "province": {"id": "ev", "name": "Evaluation"},
        "cities": [{"id": "ev", "name": "Evaluation"}],
        "halls": [{
            "id": "eval", "city": "ev", "name": f"Evaluation hall {spec.id}", "size": "medium",
            "flow": "one_window_quick",
            "windows": [{"id": d.window, "name": f"Window {d.window[1:]}"} for d in hall.desks],
            "cameras": [{"id": "cam", "url": "rtsp://127.0.0.1:8554/eval", "analysis_fps": 1.0,
                         "zones": hall.zones}],
        }],
    }
    (directory / "site.yaml").write_text(f"# {spec.description}\n" + yaml.safe_dump(site, sort_keys=False))
    truth = {
        "version": 1, "clip": spec.id, "camera": "eval/cam", "video": "video.mp4", "fps": spec.fps,
        "size": [WIDTH, HEIGHT], "duration_s": spec.duration_s, "description": spec.description, "tags": spec.tags,
        "still_officers": [d.window for d in hall.desks] if spec.still and not spec.after_hours else [],
        "seconds": seconds, "queue_visits": hall.visits,
    }
    (directory / "truth.json").write_text(json.dumps(truth, separators=(",", ":")) + "\n")
    size = (directory / "video.mp4").stat().st_size
    return {"id": spec.id, "subset": spec.subset, "duration_s": spec.duration_s, "video_bytes": size,
            "tags": spec.tags, "description": spec.description}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EVAL_DIR)
    parser.add_argument("--only", nargs="+", help="regenerate only these clips (ids)")
    args = parser.parse_args(argv)
    entries = []
    for spec in CLIPS:
        if args.only and spec.id not in args.only:
            continue
        started = time.monotonic()
        entry = write_clip(spec, args.out)
        entries.append(entry)
        print(f"{spec.id}: {spec.duration_s} s, {int(entry['video_bytes']) / 1e6:.2f} MB, "  # type: ignore[call-overload]
              f"{time.monotonic() - started:.0f} s to make", file=sys.stderr)
    if not args.only:
        manifest = {
            "version": 1,
            "clips": [{"id": e["id"], "subset": e["subset"]} for e in entries],
            "subsets": {"ci": [e["id"] for e in entries if e["subset"] == "ci"],
                        "full": [e["id"] for e in entries]},
        }
        header = "# The evaluation set; regenerate with `python -m tools.evaluate.generate` (see README.md).\n"
        (args.out / "dataset.yaml").write_text(header + yaml.safe_dump(manifest, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
