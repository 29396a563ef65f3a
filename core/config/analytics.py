"""How analytics turns detections into desk states, queue counts, waits and events.

`presence:` (the desk hysteresis) predates this section and stays where site files have it; every
other analytics setting lives under `analytics:`. Times are seconds of capture time."""

from __future__ import annotations

from pydantic import Field, model_validator

from core.config.base import Strict


class PresenceConfig(Strict):
    present_after_s: float = Field(default=0.0, ge=0.0, le=600.0, description="seen this long: present")
    absent_after_s: float = Field(default=4.0, ge=0.0, le=3600.0, description="unseen this long: absent")


class ConfidenceConfig(Strict):
    """Per-zone detection thresholds. The detector must report boxes down to the lowest of these
    (`detector.confidence`), or the lower desk threshold has nothing to work with."""

    floor: float = Field(default=0.25, gt=0.0, lt=1.0,
                         description="least confidence of a person counted in a queue or self-service zone, "
                                     "or outside every zone; a zone's own `confidence` overrides it")
    desk: float = Field(default=0.12, gt=0.0, lt=1.0,
                        description="least confidence of a person counted at a desk: lower than on the floor, "
                                    "because the counter hides the officer's lower half")


class DeskEvidenceConfig(Strict):
    """Evidence from the desk zone's own pixels that keeps a still, half-hidden officer present
    while the detector misses them. It never makes a desk present on its own."""

    enabled: bool = Field(default=True, description="use zone evidence (needs frame features)")
    patch_px: int = Field(default=32, ge=8, le=128, description="side of the desk zone thumbnail compared")
    changed_threshold: float = Field(default=0.045, gt=0.0, lt=1.0,
                                     description="mean absolute difference (0-1 grey) above which the zone "
                                                 "differs from its learned empty-desk reference")
    same_threshold: float = Field(default=0.03, gt=0.0, lt=1.0,
                                  description="below this the zone still looks as when the officer was last "
                                              "detected")
    motion_threshold: float = Field(default=0.02, gt=0.0, lt=1.0,
                                    description="frame-to-frame difference above which the zone moves")
    min_visible: float = Field(default=0.3, gt=0.0, le=1.0,
                               description="least share of the zone not covered by citizens' boxes for the "
                                           "evidence to count")
    empty_learn_after_s: float = Field(default=10.0, ge=0.0, le=3600.0,
                                       description="absent, undetected and still this long before the zone "
                                                   "is learned as the empty-desk reference")
    empty_learn_rate: float = Field(default=0.1, gt=0.0, le=1.0,
                                    description="weight of each new empty frame in the reference")
    hold_max_s: float = Field(default=900.0, ge=0.0, le=86400.0,
                              description="zone evidence keeps a desk present at most this long after the "
                                          "last detection")


class QueueConfig(Strict):
    """Queue and self-service counts: people counted where they stand in each analysed frame, then
    the median of the last few frames. No rule depends on following a person from frame to frame."""

    smoothing_frames: int = Field(default=1, ge=1, le=60,
                                  description="zone counts are the median of the counts of this many analysed "
                                              "frames (1: each frame's own count)")
    smoothing_s: float = Field(default=3.0, ge=0.0, le=600.0,
                               description="...of the frames at most this many seconds older than the newest")
    hold_step: float = Field(default=0.75, ge=0.0, le=10.0,
                             description="a person in the zone in the previous analysed frame, more than this "
                                         "many box heights from its edges, with no foot point within one box "
                                         "height now, is a missed detection and still counted for this frame "
                                         "(0: off; docs/accuracy.md has what it does on the real and synthetic "
                                         "clips)")
    passer_step: float = Field(default=0.0, ge=0.0, le=10.0,
                               description="people whose foot point is more than this many box heights from "
                                           "every foot point of the previous analysed frame are walking through "
                                           "and not counted (0: everyone in the zone counts)")


class WaitConfig(Strict):
    """Waiting times from the zone's count, first in first out: no queue place is followed."""

    stay_frames: int = Field(default=3, ge=1, le=60,
                             description="arrivals and departures are rises and falls of the median count of "
                                         "this many analysed frames (so a missed detection is no departure)")
    leave_after_s: float = Field(default=5.0, gt=0.0, le=600.0,
                                 description="a minute's waiting times are reported this long after it ends")
    littles_window_s: float = Field(default=300.0, ge=60.0, le=3600.0,
                                    description="Little's-law estimate over this many seconds up to the "
                                                "minute's end")


class ViewConfig(Strict):
    """Obstructed and moved cameras, against a reference learned from the camera's own frames."""

    enabled: bool = Field(default=True, description="check the view (needs frame features)")
    dark_below: float = Field(default=0.06, ge=0.0, lt=1.0, description="mean grey (0-1) below which it is dark")
    uniform_below: float = Field(default=0.025, ge=0.0, lt=1.0,
                                 description="grey standard deviation below which the view is covered")
    contrast_drop: float = Field(default=0.3, gt=0.0, lt=1.0,
                                 description="covered too when contrast falls below this share of the reference")
    sharpness_drop: float = Field(default=0.25, gt=0.0, lt=1.0,
                                  description="out of focus when sharpness falls below this share of the "
                                              "reference")
    moved_below: float = Field(default=0.25, gt=-1.0, lt=1.0,
                               description="moved (looks elsewhere) when the edge map's correlation with the "
                                           "reference falls below this")
    moved_shift: float = Field(default=0.025, gt=0.0, lt=0.5,
                               description="moved when the scene is shifted against the reference by this share "
                                           "of the frame's width or height")
    learn_s: float = Field(default=30.0, ge=0.0, le=3600.0,
                           description="the reference is learned over the first seconds of good view")
    learn_rate: float = Field(default=0.02, gt=0.0, le=1.0,
                              description="weight of each good frame in the reference after learning")


class EventsConfig(Strict):
    unstaffed_people: int = Field(default=1, ge=1, le=1000,
                                  description="people waiting at an absent window's queue for it to be unstaffed")
    unstaffed_after_s: float = Field(default=60.0, ge=0.0, le=86400.0,
                                     description="...for this long")
    queue_limit: int = Field(default=10, ge=1, le=1000,
                             description="more people than this in a queue zone is over limit (a zone's "
                                         "`limit` overrides it)")
    queue_over_after_s: float = Field(default=60.0, ge=0.0, le=86400.0, description="...for this long")
    wait_sla_s: float = Field(default=1200.0, gt=0.0, le=86400.0,
                              description="someone waiting in a queue longer than this is over the SLA")
    offline_after_s: float = Field(default=20.0, ge=0.0, le=86400.0,
                                   description="no usable frame this long: camera offline")
    view_after_s: float = Field(default=10.0, ge=0.0, le=86400.0,
                                description="obstructed or moved this long: event")
    clear_after_s: float = Field(default=10.0, ge=0.0, le=86400.0,
                                 description="an event closes after its condition has been false this long")


class AnalyticsConfig(Strict):
    confidence: ConfidenceConfig = ConfidenceConfig()
    desk: DeskEvidenceConfig = DeskEvidenceConfig()
    queue: QueueConfig = QueueConfig()
    wait: WaitConfig = WaitConfig()
    view: ViewConfig = ViewConfig()
    events: EventsConfig = EventsConfig()

    @model_validator(mode="after")
    def _consistent(self) -> AnalyticsConfig:
        if self.desk.same_threshold > self.desk.changed_threshold:
            raise ValueError("desk.same_threshold must not exceed desk.changed_threshold")
        return self
