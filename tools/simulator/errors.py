"""Errors of the camera simulator."""

from core.errors import HallwatchError


class SimulatorError(HallwatchError):
    """The simulator cannot build its scene or serve its streams."""
