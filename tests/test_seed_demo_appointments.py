"""seed_demo_appointments: the demo business's resources and a week of appointments
around today, in mixed statuses, written through the actions; safe to re-run."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatusChange, Resource
from events.models import Event

pytestmark = pytest.mark.django_db


def test_it_fills_a_week_around_today_in_mixed_statuses(business):
    out = StringIO()

    call_command("seed_demo_appointments", "--business", str(business.pk), stdout=out)

    assert Resource.objects.filter(business=business).count() == 4
    appointments = Appointment.objects.filter(business=business)
    today = timezone.now().date()
    days = {appointment.starts_at.date() for appointment in appointments}
    assert min(days) <= today - timezone.timedelta(days=2)
    assert max(days) >= today + timezone.timedelta(days=2)
    statuses = set(appointments.values_list("status", flat=True))
    assert {"COMPLETED", "NO_SHOW", "CANCELLED", "OPEN"} <= statuses
    assert set(AppointmentStatusChange.objects.values_list("source", flat=True)) == {"command"}
    assert Event.objects.filter(type="appointment.created").count() == appointments.count()
    assert f"{appointments.count()} appointments" in out.getvalue()


def test_a_second_run_adds_nothing(business):
    call_command("seed_demo_appointments", "--business", str(business.pk), stdout=StringIO())
    count = Appointment.objects.count()
    out = StringIO()

    call_command("seed_demo_appointments", "--business", str(business.pk), stdout=out)

    assert Appointment.objects.count() == count
    assert "nothing added" in out.getvalue()


def test_an_unknown_business_is_refused(db):
    with pytest.raises(CommandError, match="no business 999"):
        call_command("seed_demo_appointments", "--business", "999", stdout=StringIO())
