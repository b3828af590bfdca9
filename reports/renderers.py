"""CSV for the reports: `Accept: text/csv`."""

import csv
import datetime as dt
import io

from rest_framework import renderers


class ResultsCSVRenderer(renderers.BaseRenderer):
    """Writes a report's `results` rows as CSV: a header row (the view's
    `csv_columns`), then one line per row (as the view's `csv_row` flattens it, when it
    has one); an empty cell for null, dates as YYYY-MM-DD. Bodies without `results`
    (errors) are not CSV: the views answer those in JSON (ReportView.finalize_response)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        view = (renderer_context or {}).get("view")
        columns = view.csv_columns
        flatten = getattr(view, "csv_row", None) or (lambda row: row)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for row in data["results"]:
            flat = flatten(row)
            writer.writerow([cell(flat[column]) for column in columns])
        return buffer.getvalue().encode(self.charset)


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
