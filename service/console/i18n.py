"""The console's languages: Chinese by default, English selectable, through gettext catalogues (Babel).

Templates and code are written with English message ids; `locale/zh/*.po` translate them. Every .po file of a
language is merged into one catalogue when the app starts (a page may keep its messages in a file of its own), so
the .po files are the only source: nothing compiled is committed. `python -m service.console.i18n` lists every
message of the templates and code that has no Chinese translation yet (the tests fail on any).

The public pages (service.public) use the same machinery with their own templates and catalogue in front of the
console's (`locale_dirs`, first folder first), and the same Jinja2 environment (`environment`), without the
console's sign-in.
"""

import io
import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from alerting.levels import ALERT_LEVELS

LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"
# English is the language of the message ids: it needs no catalogue.
SOURCE_LOCALE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
PACKAGE_DIR = Path(__file__).parent
# Where messages are written: the templates (Jinja2's {% trans %} and _()) and the console's Python code.
EXTRACTION = [("templates/**.html", "jinja2"), ("**.py", "python")]
# The code translates through web.translate(request, message) as well as the usual gettext names.
KEYWORDS = {**DEFAULT_KEYWORDS, "translate": (2,)}
# Times on the pages are China Standard Time, the zone every county bureau works in.
DUTY_TIME_ZONE = ZoneInfo("Asia/Shanghai")


@cache
def translations(locale: str, locale_dirs: tuple[Path, ...] = (LOCALE_DIR,)) -> NullTranslations:
    """The merged catalogue of a language (the identity for English)."""
    if locale == SOURCE_LOCALE:
        return NullTranslations()
    catalog = catalogue(locale, locale_dirs)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def catalogue(locale: str, locale_dirs: tuple[Path, ...] = (LOCALE_DIR,)) -> Catalog:
    """Every .po file of a language, merged; a message translated twice keeps the first file's (by folder, then
    by name)."""
    merged = Catalog(locale="zh_Hans_CN" if locale == "zh" else locale)
    for path in [path for folder in locale_dirs for path in sorted((folder / locale).glob("*.po"))]:
        with path.open("rb") as f:
            for message in read_po(f, locale=merged.locale):
                if message.id and message.id not in merged:
                    merged[message.id] = message
    return merged


def pick_locale(requested: str | None) -> str:
    """The language a request asked for (its cookie), else Chinese."""
    return requested if requested in LOCALES else DEFAULT_LOCALE


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def environment(package: str, locale: str, locale_dirs: tuple[Path, ...] = (LOCALE_DIR,)) -> Environment:
    """A package's templates with one language's translations installed, and the filters pages share."""
    env = Environment(loader=PackageLoader(package, "templates"), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"])
    language = translations(locale, locale_dirs)
    env.install_gettext_translations(language, newstyle=True)
    # A word of the data (a level, a state, a finding) in the reader's language. Not `_()`: Jinja marks what `_()`
    # returns as safe HTML, which is right for the templates' own messages and wrong for anything from the database.
    env.filters["word"] = lambda value: str(language.gettext(str(value)))
    env.globals["ALERT_LEVELS"] = ALERT_LEVELS
    env.filters["localtime"] = local_time
    return env


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as the duty room (and the county it serves) reads it."""
    return "" if value is None else value.astimezone(DUTY_TIME_ZONE).strftime(fmt)


def untranslated(locale: str = "zh", package_dir: Path = PACKAGE_DIR,
                 locale_dirs: tuple[Path, ...] = (LOCALE_DIR,)) -> list[tuple[str, str]]:
    """(where, message) for each message of a package's templates and code that the language's catalogue lacks."""
    catalog = catalogue(locale, locale_dirs)
    missing = []
    for filename, lineno, message, _comments, _context in extract_from_dir(package_dir, EXTRACTION, keywords=KEYWORDS):
        ids = message if isinstance(message, tuple) else (message,)
        for message_id in ids:
            entry = catalog.get(message_id)
            if entry is None or not entry.string or entry.fuzzy:
                missing.append((f"{filename}:{lineno}", message_id))
    return missing


class Pages:
    """The language machinery of a package of pages besides the console (the public pages, the phone app): its
    templates with its own catalogue in front of the console's, the reader's language from a cookie, and the
    messages it lacks. The console's sign-in is not part of it."""

    def __init__(self, package: str, package_dir: Path, prefix: str, language_cookie: str = "geohazard_lang") -> None:
        self.package = package
        self.package_dir = package_dir
        # The package's own messages first, then the console's catalogue for the domain's words (levels, findings).
        self.locale_dirs = (package_dir / "locale", LOCALE_DIR)
        self.prefix = prefix
        self.language_cookie = language_cookie
        self._templates: dict[str, Jinja2Templates] = {}

    def templates(self, locale: str) -> Jinja2Templates:
        """The package's templates with one language's translations installed (one environment per language)."""
        if locale not in self._templates:
            self._templates[locale] = Jinja2Templates(env=environment(self.package, locale, self.locale_dirs))
        return self._templates[locale]

    def request_locale(self, request: Request) -> str:
        return pick_locale(request.cookies.get(self.language_cookie))

    def render(self, request: Request, name: str, context: dict[str, Any] | None = None, *,
               status_code: int = 200) -> HTMLResponse:
        """A page in the reader's language."""
        locale = self.request_locale(request)
        return self.templates(locale).TemplateResponse(
            request, name, {"locale": locale, "prefix": self.prefix, **(context or {})}, status_code=status_code)

    def translate(self, request: Request, message: str) -> str:
        """A message of the code in the reader's language."""
        return translations(self.request_locale(request), self.locale_dirs).gettext(message)

    def untranslated(self, locale: str = "zh") -> list[tuple[str, str]]:
        """(where, message) for each message of the package's templates and code without a translation."""
        return untranslated(locale, self.package_dir, self.locale_dirs)


if __name__ == "__main__":
    gaps = untranslated()
    for where, message in gaps:
        print(f"{where}\t{message}")
    print(f"{len(gaps)} message(s) without a Chinese translation", file=sys.stderr)
    sys.exit(1 if gaps else 0)
