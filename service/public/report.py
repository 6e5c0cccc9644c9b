"""The public "report a sign of danger" form and its answer (issue 16). Anonymous: a double-submit CSRF cookie guards
the form (as the console's sign-in form), and each address may send `public_reports_per_hour` reports an hour."""

import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from service.deps import ConnDep
from service.errors import Invalid
from service.patrols.photos import PhotoTooLarge, PhotoUpload
from service.patrols.router import PhotoStoreDep
from service.public import reports
from service.public.web import PUBLIC_PREFIX, render, translate

router = APIRouter(prefix=PUBLIC_PREFIX, include_in_schema=False)
REPORT_PATH = f"{PUBLIC_PREFIX}/report"
CSRF_COOKIE = "geohazard_report_csrf"
CSRF_FIELD = "csrf_token"
# A photo from a phone's camera (patrol_photo_max_bytes, 10 MiB by default) and a few short fields.
BODY_LIMIT_BYTES = 12 * 1024 * 1024
FIELD_LIMIT_BYTES = 8 * 1024
# The form's fields by name; what the reader is told when one is wrong.
FIELDS = ("lon", "lat", "accuracy", "description", "phone")
FIELD_ERRORS = {
    "lon": "Give your position: press “Use my position” or type the longitude and latitude.",
    "description": "Describe what you saw (at most 2000 characters).",
    "phone": "The phone number is too long.",
    "photos": "The photo must be a JPEG, PNG or WebP picture.",
}


@router.get("/report", response_class=HTMLResponse)
async def report_form(request: Request) -> HTMLResponse:
    """The empty form, with a fresh CSRF token in a cookie and in the form."""
    token = secrets.token_urlsafe(32)
    response = render(request, "report.html", {"csrf_token": token, "form": {}, **_limits(request)})
    _set_csrf(request, response, token)
    return response


@router.post("/report", response_class=HTMLResponse)
async def send_report(request: Request, conn: ConnDep, store: PhotoStoreDep) -> HTMLResponse:
    """Store the report and thank the reader; the form again with what is wrong, or 429 when the hour's share is sent."""
    form = await request.form(max_files=1, max_fields=len(FIELDS) + 1, max_part_size=FIELD_LIMIT_BYTES)
    expected = request.cookies.get(CSRF_COOKIE)
    sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        return render(request, "error.html", {
            "message": translate(request, "This form has expired. Open it again and send it once more.")},
            status_code=403)
    text = {name: value if isinstance(value := form.get(name, ""), str) else "" for name in FIELDS}
    photo = form.get("photo")
    upload = PhotoUpload(photo.file) if isinstance(photo, UploadFile) and (photo.filename or photo.size) else None
    error, status_code = None, 422
    try:
        report = reports.report_in(**text)
        filed = await reports.file_report(
            conn=conn, store=store, settings=request.app.state.settings, report=report, upload=upload,
            address=request.client.host if request.client else "unknown", now=datetime.now(UTC))
    except Invalid as exc:
        error = translate(request, FIELD_ERRORS[str(exc.loc[1])])
    except PhotoTooLarge:
        error, status_code = translate(request, "The photo is too large."), 413
    except reports.TooManyReports:
        return render(request, "error.html", {"message": translate(
            request, "Too many reports have come from your connection in the last hour. If you are in danger, "
                     "leave now and call the contacts on your point's card.")}, status_code=429)
    finally:
        await form.close()
    if error is not None:
        return render(request, "report.html", {"csrf_token": expected, "form": text, "error": error,
                                               **_limits(request)}, status_code=status_code)
    return render(request, "report_sent.html", {"point": filed.hazard_point, "task": filed.task_id is not None})


def _limits(request: Request) -> dict[str, int]:
    """What the form's script checks before sending: a photo over the limit is refused on the phone, with a message,
    instead of after minutes of upload over a weak signal."""
    return {"photo_max_bytes": min(request.app.state.settings.patrol_photo_max_bytes, BODY_LIMIT_BYTES - 64 * 1024)}


def _set_csrf(request: Request, response: HTMLResponse, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, path=REPORT_PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
