"""One exception root for everything hallwatch raises on purpose."""


class HallwatchError(Exception):
    """Base of every error hallwatch raises deliberately."""


class ConfigError(HallwatchError):
    """The site file is missing, unreadable or invalid."""


class DatabaseError(HallwatchError):
    """The database cannot be started, reached or migrated."""


class ModelError(HallwatchError):
    """A detector model file is missing, corrupt or not what the config says."""


class StreamError(HallwatchError):
    """A camera stream cannot be opened or read."""


class StreamUnauthorized(StreamError):
    """The camera refused the credentials."""


class StreamStalled(StreamError):
    """The stream is open but delivers no frames."""
