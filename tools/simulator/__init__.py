"""The camera simulator: real H.264 RTSP streams of a synthetic service hall, following a
deterministic script whose ground truth is written beside the streams."""

from tools.simulator.scene import PlacedPerson, SceneRenderer
from tools.simulator.script import CameraTruth, Script
from tools.simulator.server import run_simulator
from tools.simulator.truth import TruthChange, load_truth, truth_at

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
