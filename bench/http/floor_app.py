"""The floor: the benchmarked endpoints as a raw WSGI app, for comparison with Django.

    FLOOR_DATABASE_URL=postgres://... gunicorn floor_app:application --chdir bench/http

The same tables, the same SQL each endpoint needs, the same JSON (keys, order, formats),
and nothing else: psycopg 3 with a psycopg_pool ConnectionPool (server-side binding, so
hot statements get prepared), orjson, and a dozen lines of routing. No framework, no
ORM, no middleware. It is what the Django stack is measured against in bench/http/run.py,
which checks before measuring that both answer the same requests with the same JSON.

SQL per request (every request first runs the token lookup, one join):

- POST /v2/bookings/{id}/change_status: BEGIN; SELECT ... FOR UPDATE (scoped to the
  business); the business's time zone (read after the lock, as Django does); UPDATE
  of the status columns; INSERT of the history row; INSERT of the
  `booking.status_changed` event (the same `data`: the booking after, the entry);
  COMMIT. The same rows Django writes, so the ratio stays honest.
- GET /v2/bookings/{id}: one SELECT.
- GET /v2/bookings?status=...: one SELECT (status filter, business scope, ORDER BY id
  DESC, LIMIT page size + 1, as cursor pagination needs to know there is a next page).
- GET /status: one SELECT (the business's own active statuses, else the shared ones).
- POST /status: BEGIN; lock the business row (as the app does: the first POST forks
  the list, and sortOrder defaults to after the last); INSERT ... SELECT max + 1;
  COMMIT. The fork on a first POST is here too, off the measured path.
- PUT /status: one UPDATE ... RETURNING.

Only the inputs the benchmark sends are validated beyond the basics; an unsupported
query parameter is refused rather than ignored.
"""

import datetime as dt
import hashlib
import os
import re
import zoneinfo
from base64 import b64encode
from urllib.parse import parse_qs, urlencode, urlunsplit

import orjson
import psycopg
from psycopg import errors
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

set_json_loads(orjson.loads)

pool = ConnectionPool(
    os.environ["FLOOR_DATABASE_URL"],
    min_size=1,
    max_size=4,
    # Datetimes come back in UTC, as Django's connections are configured.
    kwargs={"autocommit": True, "options": "-c TimeZone=UTC"},
    open=True,
)

PAGE_SIZE = 50
BOOKING_STATUSES = ("lead", "tentative", "definite", "lost")
STAMPED = ("tentative", "definite", "lost")
STATUS_NAMES = frozenset(
    (
        "PENDING",
        "PENDING_CONFIRMATION",
        "PENDING_WAITLIST",
        "OPEN",
        "READ_ONLY",
        "READ_ONLY_FREE",
        "NO_SHOW",
        "COMPLETED",
        "CANCELLED",
        "DELETED",
    )
)
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
UTC = dt.UTC

BOOKING_KEYS = (
    "id",
    "name",
    "starts_at",
    "ends_at",
    "guest_count",
    "notes",
    "status",
    "tentative_date",
    "tentative_at",
    "definite_date",
    "definite_at",
    "lost_date",
    "lost_at",
    "created_at",
    "updated_at",
    "version",
)
BOOKING_COLUMNS = ", ".join(BOOKING_KEYS)

# The 13 keys of a status object, in the seed's order, computed by the database:
# epoch milliseconds are floor((t - epoch) / 1 ms), as the Django serializer does.
STATUS_OBJECT_KEYS = (
    "active",
    "businessId",
    "createdDate",
    "createdUser",
    "dependsOn",
    "modifiedDate",
    "modifiedUser",
    "sortOrder",
    "status",
    "statusId",
    "statusType",
    "subStatus",
    "userSelectable",
)
STATUS_COLUMNS = """active, business_id,
    floor(extract(epoch FROM created_at) * 1000)::bigint, created_user, depends_on,
    floor(extract(epoch FROM modified_at) * 1000)::bigint, modified_user,
    sort_order, status, id, status_type, sub_status, user_selectable"""

STATUS_KEYS = frozenset(STATUS_OBJECT_KEYS)

SQL_CALLER = """
    SELECT u.username, b.id
    FROM accounts_apitoken t
    JOIN accounts_user u ON u.id = t.user_id
    JOIN accounts_business b ON b.id = u.business_id
    WHERE t.key_digest = %s AND u.is_active
"""
SQL_BOOKING = f"SELECT {BOOKING_COLUMNS} FROM bookings_booking WHERE id = %s AND business_id = %s"
SQL_BOOKINGS_ONE_STATUS = f"""
    SELECT {BOOKING_COLUMNS} FROM bookings_booking
    WHERE business_id = %s AND status = %s ORDER BY id DESC LIMIT {PAGE_SIZE + 1}
"""
SQL_BOOKINGS_STATUSES = f"""
    SELECT {BOOKING_COLUMNS} FROM bookings_booking
    WHERE business_id = %s AND status = ANY(%s) ORDER BY id DESC LIMIT {PAGE_SIZE + 1}
"""
SQL_LOCK_BOOKING = (
    "SELECT status FROM bookings_booking WHERE id = %s AND business_id = %s FOR UPDATE"
)


def _status_update_sql(status: str) -> str:
    """UPDATE for a change to `status`: params (status, [moment, date,] updated_at, id)."""
    assignments = ["status = %s"]
    if status in STAMPED:
        assignments += [f"{status}_at = %s", f"{status}_date = %s"]
    if status != "lost":
        assignments += ["lost_at = NULL", "lost_date = NULL"]
    assignments.append("updated_at = %s")
    assignments.append("version = version + 1")
    return (
        f"UPDATE bookings_booking SET {', '.join(assignments)} WHERE id = %s "
        f"RETURNING {BOOKING_COLUMNS}"
    )


SQL_CHANGE_STATUS = {status: _status_update_sql(status) for status in BOOKING_STATUSES}
SQL_HISTORY = """
    INSERT INTO bookings_bookingstatuschange
        (booking_id, business_id, from_status, to_status, status_at, recorded_at, changed_by,
         source)
    VALUES (%s, %s, %s, %s, %s, %s, %s, 'api')
    RETURNING id
"""
SQL_BUSINESS_ZONE = "SELECT timezone FROM accounts_business WHERE id = %s"
# transaction_id is the column's default (the writing transaction's id), as in Django.
SQL_EVENT = """
    INSERT INTO events_event (business_id, type, data, created_at)
    VALUES (%s, 'booking.status_changed', %s::jsonb, %s)
"""
SQL_STATUS_LIST = f"""
    SELECT {STATUS_COLUMNS} FROM statuses_status s
    WHERE s.active AND (
        s.business_id = %(business)s
        OR (s.business_id IS NULL AND NOT EXISTS (
            SELECT 1 FROM statuses_status own WHERE own.business_id = %(business)s)))
    ORDER BY s.sort_order, s.id
"""
SQL_LOCK_BUSINESS = "SELECT 1 FROM accounts_business WHERE id = %s FOR NO KEY UPDATE"
# Inserts only into a business that has its own list (max is NULL otherwise); a name
# already in the list inserts nothing.
SQL_STATUS_INSERT = f"""
    INSERT INTO statuses_status (business_id, status, sub_status, status_type, sort_order,
        active, user_selectable, depends_on, created_at, created_user)
    SELECT %(business)s, %(status)s, %(sub_status)s, %(status_type)s,
        COALESCE(%(sort_order)s, own.last + 1), %(active)s, %(user_selectable)s, NULL,
        %(now)s, %(user)s
    FROM (SELECT max(sort_order) AS last FROM statuses_status
          WHERE business_id = %(business)s) AS own
    WHERE own.last IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING {STATUS_COLUMNS}
"""
SQL_HAS_OWN_LIST = "SELECT EXISTS (SELECT 1 FROM statuses_status WHERE business_id = %s)"
SQL_FORK = """
    INSERT INTO statuses_status (business_id, status, sub_status, status_type, sort_order,
        active, user_selectable, depends_on, created_at, created_user)
    SELECT %(business)s, status, sub_status, status_type, sort_order, active,
        user_selectable, depends_on, %(now)s, %(user)s
    FROM statuses_status WHERE business_id IS NULL ORDER BY sort_order, id
"""
SQL_STATUS_UPDATE_COPY = f"""
    UPDATE statuses_status SET status_type = COALESCE(%(status_type)s, status_type),
        sort_order = COALESCE(%(sort_order)s, sort_order),
        active = COALESCE(%(active)s, active),
        user_selectable = COALESCE(%(user_selectable)s, user_selectable)
    WHERE business_id = %(business)s AND status = %(status)s AND sub_status = %(sub_status)s
    RETURNING {STATUS_COLUMNS}
"""
SQL_STATUS_PUT = f"""
    UPDATE statuses_status SET status = %(status)s, sub_status = %(sub_status)s,
        status_type = COALESCE(%(status_type)s, status_type),
        sort_order = COALESCE(%(sort_order)s, sort_order),
        active = COALESCE(%(active)s, active),
        user_selectable = COALESCE(%(user_selectable)s, user_selectable),
        modified_at = %(now)s, modified_user = %(user)s
    WHERE id = %(id)s AND business_id = %(business)s
    RETURNING {STATUS_COLUMNS}
"""
SQL_STATUS_OWNER = "SELECT business_id FROM statuses_status WHERE id = %s"

BOOKING_PATH = re.compile(r"^/v2/bookings/([0-9]+)/?$")
CHANGE_STATUS_PATH = re.compile(r"^/v2/bookings/([0-9]+)/change_status/?$")
BIGINT_MAX = 2**63 - 1


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


REASONS = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
}
JSON = "application/json"


def application(environ, start_response):
    try:
        status, payload = dispatch(environ)
    except HttpError as error:
        status, payload = error.status, {"detail": error.detail}
    body = orjson.dumps(payload, option=orjson.OPT_UTC_Z)
    headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
    if status == 401:
        headers.append(("WWW-Authenticate", "Token"))
    start_response(REASONS.get(status, f"{status} Error"), headers)
    return [body]


def dispatch(environ) -> tuple[int, object]:
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "")
    with pool.connection() as conn:
        username, business_id = authenticate(conn, environ)
        if path in ("/status", "/status/"):
            if method == "GET":
                return 200, status_list(conn, business_id)
            if method == "POST":
                return 201, status_create(conn, business_id, username, read_json(environ))
            if method == "PUT":
                return 200, status_update(conn, business_id, username, read_json(environ))
            raise HttpError(405, f'Method "{method}" not allowed.')
        if match := CHANGE_STATUS_PATH.match(path):
            if method != "POST":
                raise HttpError(405, f'Method "{method}" not allowed.')
            body = read_json(environ)
            return 200, change_status(conn, business_id, username, int(match[1]), body)
        if match := BOOKING_PATH.match(path):
            if method != "GET":
                raise HttpError(405, f'Method "{method}" not allowed.')
            return 200, booking_detail(conn, business_id, int(match[1]))
        if path in ("/v2/bookings", "/v2/bookings/"):
            if method != "GET":
                raise HttpError(405, f'Method "{method}" not allowed.')
            return 200, booking_list(conn, business_id, environ)
    raise HttpError(404, "Not found.")


def authenticate(conn: psycopg.Connection, environ) -> tuple[str, int]:
    header = environ.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0].lower() != "token":
        raise HttpError(401, "Authentication credentials were not provided.")
    digest = hashlib.sha256(header[1].encode("utf-8", "surrogatepass")).hexdigest()
    row = conn.execute(SQL_CALLER, (digest,)).fetchone()
    if row is None:
        raise HttpError(401, "Invalid token.")
    return row


def read_json(environ) -> dict:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        body = orjson.loads(environ["wsgi.input"].read(length) if length else b"")
    except orjson.JSONDecodeError as error:
        raise HttpError(400, f"JSON parse error - {error}") from None
    if not isinstance(body, dict):
        raise HttpError(400, "Expected a JSON object.")
    return body


# --- Bookings ---------------------------------------------------------------


def booking_object(row: tuple) -> dict:
    return dict(zip(BOOKING_KEYS, row, strict=True))


def booking_detail(conn: psycopg.Connection, business_id: int, booking_id: int) -> dict:
    row = conn.execute(SQL_BOOKING, (booking_id, business_id)).fetchone()
    if row is None:
        raise HttpError(404, "No Booking matches the given query.")
    return booking_object(row)


def booking_list(conn: psycopg.Connection, business_id: int, environ) -> dict:
    query_string = environ.get("QUERY_STRING", "")
    params = parse_qs(query_string, keep_blank_values=True)
    if set(params) - {"status"}:
        raise HttpError(400, "The floor supports the status filter only.")
    statuses = [part.strip() for v in params.get("status", []) for part in v.split(",")]
    statuses = [status for status in statuses if status]
    if any(status not in BOOKING_STATUSES for status in statuses):
        raise HttpError(400, "Unknown status.")
    if len(statuses) == 1:
        rows = conn.execute(SQL_BOOKINGS_ONE_STATUS, (business_id, statuses[0])).fetchall()
    elif statuses:
        rows = conn.execute(SQL_BOOKINGS_STATUSES, (business_id, statuses)).fetchall()
    else:
        raise HttpError(400, "The floor needs a status filter.")
    page = rows[:PAGE_SIZE]
    next_link = None
    if len(rows) > PAGE_SIZE:
        # DRF's cursor: the position of the last item on the page, base64 of "p=<id>",
        # put into the request's own URL with the query parameters sorted.
        cursor = b64encode(f"p={page[-1][0]}".encode("ascii")).decode("ascii")
        params["cursor"] = [cursor]
        query = urlencode(sorted(params.items()), doseq=True)
        host = environ.get("HTTP_HOST") or environ["SERVER_NAME"]
        next_link = urlunsplit(("http", host, environ.get("PATH_INFO", ""), query, ""))
    return {"next": next_link, "previous": None, "results": [booking_object(r) for r in page]}


def parse_moment(body: dict, zone: dt.tzinfo) -> dt.datetime | None:
    """status_at / status_date as change_status takes them (the benchmark sends none);
    a date alone stands for its first instant in the business's zone."""
    status_at, status_date = body.get("status_at"), body.get("status_date")
    moment = None
    if status_at is not None:
        if not isinstance(status_at, str) or "T" not in status_at.upper():
            raise HttpError(400, "status_at: must be an ISO 8601 datetime string.")
        try:
            moment = dt.datetime.fromisoformat(status_at.upper())
        except ValueError:
            raise HttpError(400, "status_at: not a valid ISO 8601 datetime.") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if status_date is not None:
        try:
            day = dt.date.fromisoformat(status_date)
        except (TypeError, ValueError):
            raise HttpError(400, "status_date: must be a date as YYYY-MM-DD.") from None
        if moment is not None and moment.astimezone(zone).date() != day:
            raise HttpError(400, "status_date: disagrees with status_at.")
        moment = moment or dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(UTC)
    if moment is not None and moment > dt.datetime.now(UTC) + FUTURE_TOLERANCE:
        raise HttpError(400, "status_at: the moment is in the future.")
    return moment


def change_status(
    conn: psycopg.Connection, business_id: int, username: str, booking_id: int, body: dict
) -> dict:
    if set(body) - {"status", "status_at", "status_date"}:
        raise HttpError(400, "Unknown field.")
    status = body.get("status")
    if status not in BOOKING_STATUSES:
        raise HttpError(400, "status: unknown status.")
    with conn.transaction(), conn.cursor() as cursor:
        locked = cursor.execute(SQL_LOCK_BOOKING, (booking_id, business_id)).fetchone()
        if locked is None:
            raise HttpError(404, "No Booking matches the given query.")
        [zone_name] = cursor.execute(SQL_BUSINESS_ZONE, (business_id,)).fetchone()
        zone = zoneinfo.ZoneInfo(zone_name)  # cached by zoneinfo
        now = dt.datetime.now(UTC)
        moment = parse_moment(body, zone) or now
        if status in STAMPED:
            params = (status, moment, moment.astimezone(zone).date(), now, booking_id)
        else:
            params = (status, now, booking_id)
        booking = booking_object(cursor.execute(SQL_CHANGE_STATUS[status], params).fetchone())
        [change_id] = cursor.execute(
            SQL_HISTORY, (booking_id, business_id, locked[0], status, moment, now, username)
        ).fetchone()
        change = {
            "id": change_id,
            "from_status": locked[0],
            "to_status": status,
            "status_at": moment,
            "recorded_at": now,
            "changed_by": username,
            "source": "api",
        }
        data = orjson.dumps({"booking": booking, "change": change}, option=orjson.OPT_UTC_Z)
        cursor.execute(SQL_EVENT, (business_id, data.decode(), now))
    return booking


# --- Statuses ---------------------------------------------------------------


def status_object(row: tuple) -> dict:
    return dict(zip(STATUS_OBJECT_KEYS, row, strict=True))


def status_list(conn: psycopg.Connection, business_id: int) -> list[dict]:
    rows = conn.execute(SQL_STATUS_LIST, {"business": business_id}).fetchall()
    return [status_object(row) for row in rows]


def _strict_int(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise HttpError(400, f"{key}: must be an integer.")
    return value


def _strict_bool(body: dict, key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise HttpError(400, f"{key}: must be true or false.")
    return value


def status_fields(body: dict, business_id: int) -> dict:
    """The writable fields of a POST/PUT body, checked as the API checks them."""
    if set(body) - STATUS_KEYS:
        raise HttpError(400, "Unknown field.")
    claimed = _strict_int(body, "businessId")
    if claimed is None:
        raise HttpError(400, "businessId: this field is required.")
    if claimed != business_id:
        raise HttpError(403, f"businessId must be your business's id, {business_id}.")
    status, sub_status = body.get("status"), body.get("subStatus")
    if status not in STATUS_NAMES:
        raise HttpError(400, "status: unknown status.")
    if not isinstance(sub_status, str) or not 1 <= len(sub_status.strip()) <= 64:
        raise HttpError(400, "subStatus: must be 1 to 64 characters.")
    status_type = body.get("statusType")
    if status_type is not None and status_type != "APPOINTMENT":
        raise HttpError(400, "statusType: must be APPOINTMENT.")
    sort_order = _strict_int(body, "sortOrder")
    if sort_order is not None and not 0 <= sort_order <= 2_147_483_647:
        raise HttpError(400, "sortOrder: out of range.")
    return {
        "business": business_id,
        "status": status,
        "sub_status": sub_status.strip(),
        "status_type": status_type,
        "sort_order": sort_order,
        "active": _strict_bool(body, "active"),
        "user_selectable": _strict_bool(body, "userSelectable"),
    }


def status_create(conn: psycopg.Connection, business_id: int, username: str, body: dict) -> dict:
    if body.get("statusId") is not None:
        raise HttpError(400, "statusId: must be null or absent.")
    fields = status_fields(body, business_id)
    params = {
        **fields,
        "status_type": fields["status_type"] or "APPOINTMENT",
        "active": True if fields["active"] is None else fields["active"],
        "user_selectable": True if fields["user_selectable"] is None else fields["user_selectable"],
        "now": dt.datetime.now(UTC),
        "user": username,
    }
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(SQL_LOCK_BUSINESS, (business_id,))
        row = cursor.execute(SQL_STATUS_INSERT, params).fetchone()
        if row is None:
            if cursor.execute(SQL_HAS_OWN_LIST, (business_id,)).fetchone()[0]:
                raise HttpError(409, "This list already has this status and sub-status.")
            # The business's first POST: copy the shared list, then add to it (or apply
            # the posted values to the copy of the same name).
            cursor.execute(SQL_FORK, params)
            row = cursor.execute(SQL_STATUS_INSERT, params).fetchone()
            if row is None:
                row = cursor.execute(SQL_STATUS_UPDATE_COPY, fields).fetchone()
    return status_object(row)


def status_update(conn: psycopg.Connection, business_id: int, username: str, body: dict) -> dict:
    status_id = _strict_int(body, "statusId")
    if status_id is None:
        raise HttpError(400, "statusId: this field is required.")
    if not 0 < status_id <= BIGINT_MAX:
        raise HttpError(404, f"There is no status {status_id} in your business's list.")
    fields = status_fields(body, business_id)
    params = {**fields, "id": status_id, "now": dt.datetime.now(UTC), "user": username}
    try:
        row = conn.execute(SQL_STATUS_PUT, params).fetchone()
    except errors.UniqueViolation:
        raise HttpError(409, "This list already has this status and sub-status.") from None
    if row is None:
        owner = conn.execute(SQL_STATUS_OWNER, (status_id,)).fetchone()
        if owner is not None and owner[0] is None:
            raise HttpError(403, f"Status {status_id} is a shared default status.")
        raise HttpError(404, f"There is no status {status_id} in your business's list.")
    return status_object(row)
