"""The camera simulator: real H.264 RTSP streams of a synthetic service hall, following a
deterministic script whose ground truth is written beside the streams."""

from ingest.simulator.scene import PlacedPerson, SceneRenderer
from ingest.simulator.script import CameraTruth, Script
from ingest.simulator.server import run_simulator
from ingest.simulator.truth import TruthChange, load_truth, truth_at

__all__ = [
    "CameraTruth",
    "PlacedPerson",
    "SceneRenderer",
    "Script",
    "TruthChange",
    "load_truth",
    "run_simulator",
    "truth_at",
]
