"""Pages and messages in the reader's language, from gettext catalogues (Babel).

Message ids are the English texts, so English needs no catalogue; Simplified Chinese is
`monitor/locale/zh_CN/LC_MESSAGES/messages.po`, read and compiled in memory at first use (no compiled
`.mo` file to forget to rebuild). Extract and update with `scripts/i18n.sh`.

The language of a request: the user's own choice, else the `hw_lang` cookie (set by the language switch,
so the login page follows it too), else the site's `province.locale`. Templates call `_()` / `ngettext()`
(Jinja's i18n extension, new style: `_("%(n)s people", n=3)`), which read the language from the
template's context, so nothing depends on which thread renders the page.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from datetime import UTC, datetime, tzinfo
from functools import cache
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_datetime
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from fastapi import Request

from core.i18n import N_
from monitor.labels import LABELS, label_text
from storage.auth.model import User

__all__ = ["N_", "install", "locale_of", "page_context", "translate"]

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "en"
LANG_COOKIE = "hw_lang"
LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}


@cache
def translations(locale: str) -> stdlib_gettext.NullTranslations:
    if locale not in LOCALES or locale == "en":
        return stdlib_gettext.NullTranslations()
    po = resources.files("monitor") / "locale" / locale / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalogue = read_po(f, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def locale_of(request: Request, user: User | None = None) -> str:
    """The language to answer `request` in (a page for the public may have chosen its own)."""
    chosen_by_page = getattr(request.state, "locale", None)
    if chosen_by_page in LOCALES:
        return str(chosen_by_page)
    user = user or getattr(request.state, "user", None)
    if user is not None and user.locale in LOCALES:
        return user.locale
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    site = getattr(request.app.state, "site", None)
    return site.province.locale if site is not None else DEFAULT_LOCALE


def gettext_for(locale: str, message: str, **variables: Any) -> str:
    text = translations(locale).gettext(message)
    return text % variables if variables else text


def translate(request: Request, message: str, **variables: Any) -> str:
    """`message` in the request's language, for texts made in Python (flash messages, page titles)."""
    return gettext_for(locale_of(request), message, **variables)


@jinja2.pass_context
def _template_gettext(context: jinja2.runtime.Context, message: str) -> str:
    return translations(context.get("locale", DEFAULT_LOCALE)).gettext(message)


@jinja2.pass_context
def _template_ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return translations(context.get("locale", DEFAULT_LOCALE)).ngettext(singular, plural, n)


@jinja2.pass_context
def _format_time(context: jinja2.runtime.Context, value: datetime | float | None,
                 pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """A moment (or unix seconds) in the site's time zone, as a CLDR pattern (the default reads the same in
    both languages)."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    zone: tzinfo | None = context.get("site_tz")
    return format_datetime(value, format=pattern, tzinfo=zone, locale=Locale.parse(context.get("locale", "en")))


@jinja2.pass_context
def _format_number(context: jinja2.runtime.Context, value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=Locale.parse(context.get("locale", "en")))


@jinja2.pass_context
def _both(context: jinja2.runtime.Context, message: str) -> str:
    """The text in the page's language followed by the English, for the public board; just the English when
    that is the page's language."""
    translated = translations(context.get("locale", DEFAULT_LOCALE)).gettext(message)
    return message if translated == message else f"{translated} {message}"


@jinja2.pass_context
def _label(context: jinja2.runtime.Context, value: object, group: str) -> str:
    return translations(context.get("locale", DEFAULT_LOCALE)).gettext(label_text(value, group))


def install(env: jinja2.Environment) -> None:
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = _format_time
    env.filters["number"] = _format_number
    env.filters["label"] = _label
    env.globals["both"] = _both
    env.filters["label_text"] = label_text


@cache
def script_texts(only: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The texts the app's own scripts show, marked `t("...")` in `monitor/static/**.js` (or in the scripts
    `only` names, relative to static/)."""
    static = Path(str(resources.files("monitor") / "static"))
    method_map = [("vendor/**", "ignore")] + [(path, "javascript") for path in only or ("**.js",)]
    found = extract_from_dir(static, method_map, keywords={"t": None, "both": None})
    return tuple(sorted({message for _file, _line, message, _comments, _context in found if isinstance(message, str)}))


@cache
def client_texts(locale: str, scripts: tuple[str, ...] | None = None,
                 groups: tuple[str, ...] | None = None) -> dict[str, Any]:
    """What a page's scripts need to speak the reader's language: their texts and the value labels, translated
    (embedded in every page as JSON: see base.html and static/texts.js). A public page names its `scripts`
    and label `groups`, so that it carries nothing else."""
    translate_one = translations(locale).gettext
    names = {group: values for group, values in LABELS.items() if groups is None or group in groups}
    return {"texts": {text: translate_one(text) for text in script_texts(scripts)},
            "labels": {group: {value: translate_one(name) for value, name in values.items()}
                       for group, values in names.items()},
            "names": names,
            "locale": locale.replace("_", "-")}


def page_context(request: Request) -> dict[str, Any]:
    site = getattr(request.app.state, "site", None)
    locale = locale_of(request)
    return {
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        "languages": LANGUAGE_NAMES,
        "site_tz": site.scorecards.tz if site is not None else None,
        "client_texts": client_texts(locale),
    }

