"""The marker for texts that are shown to users but made where no reader is known yet (storage's
refusals, navigation labels): `N_("text")` returns the text unchanged and puts it in the catalogue;
`monitor.i18n` translates it where it is shown."""


def N_(message: str) -> str:  # noqa: N802 - the name gettext's extractors know
    return message
