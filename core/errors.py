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


class Refusal(HallwatchError):
    """An error whose message a user reads (a record the rules refuse, a user that cannot be created, a value
    that cannot be read). The message is a catalogue entry: `template`, marked with `N_()`, with named
    placeholders (`N_("hall '%(hall)s' has no window '%(window)s'")`) filled from `params`; `str()` is the
    English text (logs, the CLI), and the web app shows `template` translated into the reader's language with
    the same parameters (`monitor.api.error_text`). `field`, when given, names the input at fault."""

    def __init__(self, template: str, /, *, field: str | None = None, **params: object) -> None:
        super().__init__(template % params if params else template)
        self.template = template
        self.params = params
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:  # keyword arguments survive pickling (multiprocessing, logs)
        return _rebuild, (type(self), self.template, self.field, self.params)


def _rebuild(kind: type[Refusal], template: str, field: str | None, params: dict[str, object]) -> Refusal:
    return kind(template, field=field, **params)


class BadValue(Refusal, ValueError):
    """A value a user typed or uploaded that cannot be read (a date, a time, a list of weekdays); a
    `ValueError`, so callers that catch those keep working."""


class Listed(tuple[object, ...]):
    """Several values as one parameter of a `Refusal` (`allowed=Listed(statuses)`): joined by ", " in the
    English text; the web app joins their labels in the reader's language."""

    def __str__(self) -> str:
        return ", ".join(str(value) for value in self)
