"""HTTP routes of /patrol-tasks and /patrol-reports."""

import json
from contextlib import AsyncExitStack
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from runtime.settings import Settings
from service.auth.dependencies import require_role
from service.auth.schemas import ApiToken
from service.deps import BrokerDep, ConnDep, CurrentToken, PoolDep
from service.errors import DomainError, ErrorBody, Invalid
from service.patrols import service as patrol_service
from service.patrols.photos import LocalPhotoStore, PhotoStore, PhotoUpload
from service.patrols.schemas import (
    PatrolReportCreate,
    PatrolReportCreated,
    PatrolReportPublic,
    PatrolReportQuery,
    PatrolReportsPublic,
    PatrolTaskQuery,
    PatrolTasksPublic,
    json_schema,
    multipart_schema,
)

router = APIRouter(tags=["patrols"])

MAX_ID = 2**63 - 1
ReportId = Annotated[int, Path(ge=1, le=MAX_ID)]
PhotoNumber = Annotated[int, Path(ge=1, le=1000, description="The photo's number in the report, from 1.")]
# Viewers read; everyone else files reports (a grid monitor only for its own points).
ReporterToken = Annotated[ApiToken, Depends(require_role("admin", "duty_officer", "grid_monitor"))]
JSON_TYPES = ("application/json",)
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# The form fields besides the photos are short; this bounds how many a request may send.
MAX_FORM_FIELDS = 100

POST_DESCRIPTION = """\
File a patrol report from a phone, as JSON or as `multipart/form-data` with photos.

**Multipart:** send each field of the JSON body as a form field of the same name. `findings` is repeated once
per finding (`findings=new_cracks`, `findings=bulging`; a comma-separated value is also read); each photo is a
file part named `photos`. An empty form field counts as left out. JPEG, PNG and WebP are taken, judged by the
file's content; each photo is at most 10 MiB and a report carries at most 10 (both configurable). A report with
a photo that is refused is not filed at all, and nothing of it is kept.

**Who:** the reporter is the person of the caller's token. A token without a person (an administrator's or
duty officer's console token filing a report phoned in) leaves `reporter_id` null; `recorded_by` always names
the token. Grid monitors report only their own points (404 for any other); viewers cannot report (403).

**Effects:** a report made further from the point than the configured distance (default 300 m) is kept and
flagged `far_from_point`. A report answering an open task of the same point marks it done; one answering a task
already done or cancelled is kept and the task is left as it was (`task_marked_done` says which). A `dangerous`
judgement raises the point's deformation alert to orange in the same transaction (opening one if none is open;
an alert already orange or red gets a `patrol_reported` event instead), with the report as its evidence;
`alert_id` names it. Orange then needs a duty officer to lower it.

**Measurements:** `measurements` carries tape readings at the point's marked cracks, each naming a sensor of one of
the point's manual devices (`protocol` `manual`); a sensor that is not one of them is refused with the point's manual
sensors listed. Each is stored in the same transaction as a crack reading of its sensor at `reported_at` (flagged as
ingest flags readings, e.g. `future` when the phone's clock is ahead), shown at
`/devices/{id}/sensors/{code}/readings`, and the point is evaluated again at once. A resent report stores no reading
twice. In multipart/form-data, `measurements` is JSON text of the list.

**Sent again:** `client_id` is a UUID the phone makes for the report. A report whose client id is already stored
is answered with the stored report, status 200 and `duplicate` true, and nothing of it is kept or done again: no
second report, photos, readings, task change or alert. The first copy wins even when a resend differs. A client id
that another person's report holds is refused with 409 (a token without a person: another token's).
"""

REPORT_EXAMPLE = PatrolReportCreate.model_config["json_schema_extra"]["examples"][0]
POST_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": json_schema(),
                "example": REPORT_EXAMPLE,
            },
            "multipart/form-data": {
                "schema": multipart_schema(),
                "encoding": {
                    "findings": {"style": "form", "explode": True},
                    "photos": {"contentType": "image/jpeg, image/png, image/webp"},
                },
            },
        },
    }
}


class UnsupportedMediaType(DomainError):
    """Send the report as application/json or multipart/form-data."""

    status_code = 415


async def photo_store(request: Request) -> PhotoStore:
    """The app's photo store, made on first use in the configured directory (async: no thread-pool hop)."""
    settings: Settings = request.app.state.settings
    store = getattr(request.app.state, "photo_store", None)
    if store is None:
        store = request.app.state.photo_store = LocalPhotoStore(settings.patrol_photo_dir)
    return store


PhotoStoreDep = Annotated[PhotoStore, Depends(photo_store)]


def photo_url(request: Request) -> patrol_service.PhotoUrl:
    """The path of a report's photo, as the API serves it."""
    return lambda report_id, n: request.url_for("get_patrol_report_photo", report_id=report_id, n=n).path


# --- tasks ---------------------------------------------------------------------------------------


@router.get(
    "/patrol-tasks",
    response_model=PatrolTasksPublic,
    summary="List patrol tasks",
    responses={422: {"description": "A bad filter, or `mine` with a token that has no person"}},
)
async def list_patrol_tasks(
    conn: ConnDep, caller: CurrentToken, query: Annotated[PatrolTaskQuery, Query()]
) -> PatrolTasksPublic:
    """Tasks matching every given filter, earliest due first; a grid monitor sees only its points' tasks."""
    tasks, count = await patrol_service.list_tasks(conn=conn, caller=caller, query=query)
    return PatrolTasksPublic(data=tasks, count=count)


# --- reports -------------------------------------------------------------------------------------


@router.get("/patrol-reports", response_model=PatrolReportsPublic, summary="List patrol reports")
async def list_patrol_reports(
    request: Request, conn: ConnDep, caller: CurrentToken, query: Annotated[PatrolReportQuery, Query()]
) -> PatrolReportsPublic:
    """Reports matching every given filter, newest first; a grid monitor sees only its points' reports."""
    reports, count = await patrol_service.list_reports(
        conn=conn, caller=caller, query=query, photo_url=photo_url(request)
    )
    return PatrolReportsPublic(data=reports, count=count)


@router.post(
    "/patrol-reports",
    response_model=PatrolReportCreated,
    status_code=status.HTTP_201_CREATED,
    summary="File a patrol report, with photos as multipart/form-data",
    description=POST_DESCRIPTION,
    openapi_extra=POST_OPENAPI,
    responses={
        200: {"model": PatrolReportCreated,
              "description": "A report with this client_id was already stored: that report, `duplicate` true"},
        403: {"model": ErrorBody, "description": "Viewers cannot report"},
        404: {"model": ErrorBody, "description": "No such point (or not one of the grid monitor's), or no such task"},
        413: {"model": ErrorBody, "description": "A photo is larger than allowed"},
        409: {"model": ErrorBody, "description": "The client_id is another person's report's"},
        415: {"model": ErrorBody, "description": "Neither JSON nor a form"},
        422: {"description": "A field is invalid, a photo is not an image, the task is of another point, or a "
                            "measurement names no manual sensor of the point"},
    },
)
async def create_patrol_report(
    request: Request,
    response: Response,
    pool: PoolDep,
    broker: BrokerDep,
    store: PhotoStoreDep,
    reporter: ReporterToken,
) -> PatrolReportCreated:
    # The body is read here rather than declared, so that one route takes both JSON and a form (with files);
    # the OpenAPI request body above describes both.
    async with AsyncExitStack() as stack:
        report, uploads = await read_report(request, stack)
        created = await patrol_service.create_report(
            pool=pool,
            broker=broker,
            store=store,
            settings=request.app.state.settings,
            reporter=reporter,
            report=report,
            uploads=uploads,
            photo_url=photo_url(request),
        )
    if created.duplicate:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = request.url_for("get_patrol_report", report_id=created.id).path
    return created


@router.get(
    "/patrol-reports/{report_id}",
    response_model=PatrolReportPublic,
    summary="One patrol report",
    responses={404: {"model": ErrorBody, "description": "No such report (or not of the grid monitor's points)"}},
)
async def get_patrol_report(
    request: Request, conn: ConnDep, caller: CurrentToken, report_id: ReportId
) -> PatrolReportPublic:
    """The report with its findings, position, distance from the point and photo links."""
    return await patrol_service.get_report(conn=conn, caller=caller, report_id=report_id, photo_url=photo_url(request))


@router.get(
    "/patrol-reports/{report_id}/photos/{n}",
    response_class=Response,
    summary="One photo of a patrol report",
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}, "description": "The photo as stored"},
        404: {"model": ErrorBody, "description": "No such report or photo"},
    },
)
async def get_patrol_report_photo(
    conn: ConnDep,
    caller: CurrentToken,
    store: PhotoStoreDep,
    report_id: ReportId,
    n: PhotoNumber,
) -> Response:
    """The photo's bytes with its media type; a stored photo never changes, so clients may cache it."""
    content, media_type = await patrol_service.load_photo(
        conn=conn, store=store, caller=caller, report_id=report_id, n=n
    )
    return photo_response(content, media_type)


def photo_response(content: bytes, media_type: str) -> Response:
    """A stored photo as served (the API's route and the console's): it never changes, so clients may cache it."""
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


async def read_report(request: Request, stack: AsyncExitStack) -> tuple[PatrolReportCreate, list[PhotoUpload]]:
    """A report's body, JSON or a form with photos, validated (422 naming the field); the uploaded files stay open
    until `stack` closes (the parser spools large ones to temporary files). The API's route and the phone app's."""
    settings: Settings = request.app.state.settings
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in JSON_TYPES:
        fields, uploads = await _json_fields(request), []
    elif media_type in FORM_TYPES:
        form = await stack.enter_async_context(
            request.form(max_files=settings.patrol_photos_per_report + 1, max_fields=MAX_FORM_FIELDS))
        fields, uploads = _form_fields(form)
    else:
        raise UnsupportedMediaType(
            f"Send the report as application/json or multipart/form-data, "
            f"not {media_type or 'a body without a content type'}."
        )
    return _validated(fields), uploads


def _validated(fields: Any) -> PatrolReportCreate:
    """The report from its fields; 422 in FastAPI's own shape, each error with its path under body."""
    try:
        return PatrolReportCreate.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)], body=fields
        ) from None


async def _json_fields(request: Request) -> Any:
    body = await request.body()
    try:
        fields = json.loads(body)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error: {exc}", "input": {}}]
        ) from None
    if isinstance(fields, dict) and "photos" in fields:
        raise Invalid("photos are sent as files in multipart/form-data, not in JSON", loc=("body", "photos"))
    return fields


def _measurements(text: str) -> list[Any]:
    """The measurements of one form field: JSON text of a list of them, or of one."""
    try:
        measurements = json.loads(text)
    except ValueError as exc:
        raise Invalid(f"measurements is JSON text, such as [{{\"sensor\": \"M1\", \"value_mm\": 12.5}}]: {exc}",
                      loc=("body", "measurements")) from None
    return measurements if isinstance(measurements, list) else [measurements]


def _form_fields(form: FormData) -> tuple[dict[str, Any], list[PhotoUpload]]:
    """The form's fields as the JSON body would have them, and its photo files."""
    fields: dict[str, Any] = {}
    uploads: list[PhotoUpload] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != "photos":
                raise Invalid(f"{name} is a file; only photos are sent as files", loc=("body", name))
            uploads.append(PhotoUpload(value.file))
        elif value == "":  # an optional field left empty, or a file input left empty (a part without a file name)
            continue
        elif name == "photos":
            raise Invalid("photos must be files (form parts with a filename), not text", loc=("body", "photos"))
        elif name == "findings":
            fields.setdefault("findings", []).extend(part.strip() for part in value.split(",") if part.strip())
        elif name == "measurements":
            fields.setdefault("measurements", []).extend(_measurements(value))
        elif name in fields:
            raise Invalid(f"{name} is given more than once", loc=("body", name))
        else:
            fields[name] = value
    return fields, uploads
