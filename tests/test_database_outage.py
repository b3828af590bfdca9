"""A lost database is a 503 with a JSON body, not a traceback."""

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper


@pytest.mark.django_db
def test_database_errors_during_authentication_answer_503_json(api, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", unreachable)

    response = api.get("/v2/bookings")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    assert response.json() == {"detail": "The database is unavailable; retry shortly."}


@pytest.mark.django_db
def test_database_errors_during_a_write_answer_503_and_write_nothing(
    api, make_booking, monkeypatch
):
    from events.models import EventManager

    booking = make_booking()

    def connection_lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    # The change's last statement: the booking and its history are written by then.
    monkeypatch.setattr(EventManager, "write", connection_lost)

    response = api.post(f"/v2/bookings/{booking.pk}/change_status", {"status": "definite"})

    assert response.status_code == 503
    booking.refresh_from_db()
    assert booking.status == "lead"
    assert booking.definite_at is None
