"""A camera's rows stay in time order when its stream stalls and then catches up: the scheduler
driven step by step with frames of known capture times (no stream, no detector run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import av
import numpy as np

from ingest.health import CameraHealth, CameraState
from ingest.reader import RawFrame
from models.detections import Detections
from pipeline.loop import Pipeline
from pipeline.rows import DeskSample, Sample, ZoneSample
from tools.bench.trial import bench_site


@dataclass
class StepReader:
    """Hands the scheduler whatever frame the test set last."""

    raw: RawFrame | None = None
    seq: int = 0
    picture: av.VideoFrame = field(default_factory=lambda: av.VideoFrame.from_ndarray(
        np.full((72, 128, 3), 90, np.uint8), format="bgr24").reformat(format="yuv420p"))

    def show(self, captured: float) -> None:
        self.seq += 1
        self.raw = RawFrame(self.picture, captured, self.seq)

    def latest_raw(self) -> RawFrame | None:
        return self.raw

    def health(self) -> CameraHealth:
        return CameraHealth(state=CameraState.stalled, fps=0.0, last_frame_at=None, reconnects=0, error=None)


def test_a_frame_captured_before_an_unknown_instant_is_not_analysed_after_it() -> None:
    """As in a loaded run: the last frame is 2 s old, so the instant at 102.20 goes down as unknown;
    then the stream catches up and a frame captured at 102.19 arrives. Analysing it would put its
    rows before the unknown ones in time but after them in the sink."""
    site = bench_site(1, 1)
    rows: list[Sample] = []
    pipeline = Pipeline(site, detector=None, sink=rows.extend)  # type: ignore[arg-type]
    (key, work), = pipeline.work.items()
    reader = StepReader()
    analysed: list[float] = []

    def tick(now: float) -> None:
        made = pipeline._analyse(key, work, reader, now)  # type: ignore[arg-type]
        analysed.extend(sorted({r.ts.timestamp() for r in made if isinstance(r, DeskSample | ZoneSample)}))
        while not pipeline._jobs.empty():  # the detector's part, done at once: nobody there
            job = pipeline._jobs.get_nowait()
            analysed.append(job.raw.ts)
            work.detections, work.busy = Detections.empty(), False

    reader.show(100.0)
    tick(100.05)
    tick(102.20)       # the newest frame is 2.2 s old: unknown at 102.20
    reader.show(102.19)
    tick(102.25)       # captured before the unknown instant: not analysed
    reader.show(103.15)
    tick(103.20)       # a frame after it: analysed again
    assert analysed == [100.0, 102.2, 103.15]
