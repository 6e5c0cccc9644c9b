"""The console's languages: Chinese by default, English selectable, through gettext catalogues (Babel).

Templates and code are written with English message ids; `locale/zh/*.po` translate them. Every .po file of a
language is merged into one catalogue when the app starts (a page may keep its messages in a file of its own), so
the .po files are the only source: nothing compiled is committed. `python -m service.console.i18n` lists every
message of the templates and code that has no Chinese translation yet (the tests fail on any).
"""

import io
import sys
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

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


@cache
def translations(locale: str) -> NullTranslations:
    """The merged catalogue of a language (the identity for English)."""
    if locale == SOURCE_LOCALE:
        return NullTranslations()
    catalog = catalogue(locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def catalogue(locale: str) -> Catalog:
    """Every .po file of a language, merged; a message translated twice keeps the first file's (by name)."""
    merged = Catalog(locale="zh_Hans_CN" if locale == "zh" else locale)
    for path in sorted((LOCALE_DIR / locale).glob("*.po")):
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


def untranslated(locale: str = "zh") -> list[tuple[str, str]]:
    """(where, message) for each message of the templates and code that the language's catalogue lacks."""
    catalog = catalogue(locale)
    missing = []
    for filename, lineno, message, _comments, _context in extract_from_dir(PACKAGE_DIR, EXTRACTION, keywords=KEYWORDS):
        ids = message if isinstance(message, tuple) else (message,)
        for message_id in ids:
            entry = catalog.get(message_id)
            if entry is None or not entry.string or entry.fuzzy:
                missing.append((f"{filename}:{lineno}", message_id))
    return missing


if __name__ == "__main__":
    gaps = untranslated()
    for where, message in gaps:
        print(f"{where}\t{message}")
    print(f"{len(gaps)} message(s) without a Chinese translation", file=sys.stderr)
    sys.exit(1 if gaps else 0)
