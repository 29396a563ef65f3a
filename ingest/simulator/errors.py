"""Errors of the camera simulator."""

from hallwatch.errors import HallwatchError


class SimulatorError(HallwatchError):
    """The simulator cannot build its scene or serve its streams."""
