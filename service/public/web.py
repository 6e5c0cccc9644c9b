"""What every public page shares: rendering in the reader's language (a cookie of its own, no sign-in) and error
pages for the public paths."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from service import errors
from service.console import i18n

PUBLIC_PREFIX = "/public"
LANGUAGE_COOKIE = "geohazard_lang"
PACKAGE_DIR = Path(__file__).parent
# A language choice is kept a year: the public do not sign in, the cookie is all there is.
LANGUAGE_COOKIE_AGE_S = 365 * 86_400
PAGES = i18n.Pages("service.public", PACKAGE_DIR, PUBLIC_PREFIX, LANGUAGE_COOKIE)
render = PAGES.render
translate = PAGES.translate
untranslated = PAGES.untranslated


def install(app: Any) -> None:
    """A domain error (a point not found) or an invalid query on a public path as a page; any other path keeps its
    answer."""
    earlier = app.exception_handlers[errors.DomainError]

    async def domain_error(request: Request, exc: errors.DomainError) -> Response:
        if not request.url.path.startswith(PUBLIC_PREFIX + "/"):
            return await earlier(request, exc)
        return render(request, "error.html", {"message": translate(request, "This page does not exist.")},
                      status_code=exc.status_code)

    app.add_exception_handler(errors.DomainError, domain_error)
    earlier_invalid = app.exception_handlers[RequestValidationError]

    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """An address a person typed or changed by hand (lat=abc): a page saying so, not the API's JSON."""
        if not request.url.path.startswith(PUBLIC_PREFIX):
            return await earlier_invalid(request, exc)
        fields = ", ".join(str(error["loc"][-1]) for error in exc.errors())
        return render(request, "error.html", {"message": translate(
            request, "This address has a value the page cannot read (%(fields)s). Start again from the page "
                     "of points near you.") % {"fields": fields}}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid_request)

