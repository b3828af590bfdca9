"""The staff admin of webhook endpoints and deliveries: scoped to the staff user's
business, the secret shown once after creation and never listed, "Retry now" through
Delivery.retry_now like the API."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import User
from events.models import Event
from webhooks.models import (
    ENDPOINT_DISABLED,
    MAX_ENDPOINTS_PER_BUSINESS,
    Delivery,
    DeliveryStatus,
    WebhookEndpoint,
)

URL = "https://hooks.example.com/in"


@pytest.fixture(autouse=True)
def production_rules(settings, fake_dns):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False


@pytest.fixture
def staff_client(business) -> Client:
    user = User.objects.create_user("desk", business=business, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="webhooks"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ours(business) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(business=business, url=URL, event_types=["*"])


@pytest.fixture
def theirs(other_business) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        business=other_business, url="https://other.example.com/theirs", event_types=["*"]
    )


def delivery_of(endpoint: WebhookEndpoint, **fields) -> Delivery:
    event = Event.objects.create(business_id=endpoint.business_id, type="status.created", data={})
    return Delivery.objects.create(endpoint=endpoint, event=event, **fields)


def add_form(**overrides) -> dict:
    return {"url": URL, "event_types": '["*"]', "description": "", "active": "on", **overrides}


@pytest.mark.django_db
def test_staff_list_endpoints_of_their_business_only_and_never_a_secret(staff_client, ours, theirs):
    page = staff_client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert page.status_code == 200
    content = page.content.decode()
    assert ours.url in content
    assert theirs.url not in content
    assert ours.secret not in content


@pytest.mark.django_db
def test_the_change_form_does_not_show_the_secret(staff_client, ours):
    page = staff_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[ours.pk]))
    assert page.status_code == 200
    assert ours.secret not in page.content.decode()


@pytest.mark.django_db
def test_staff_cannot_open_another_business_endpoint(staff_client, theirs):
    page = staff_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[theirs.pk]))
    assert page.status_code == 302  # the admin's "does not exist" redirect
    assert page.url == reverse("admin:index")


@pytest.mark.django_db
def test_adding_an_endpoint_shows_its_secret_once(staff_client, business):
    response = staff_client.post(
        reverse("admin:webhooks_webhookendpoint_add"), add_form(), follow=True
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.business_id == business.id
    assert endpoint.secret in response.content.decode()

    again = staff_client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert endpoint.secret not in again.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"url": "https://private.example.com/in"}, "not a public internet address"),
        ({"url": "https://localhost/in"}, "not a public internet address"),
        ({"event_types": '["*", "booking.created"]'}, "stands alone"),
        ({"event_types": '["booking.exploded"]'}, "Unknown event type"),
        ({"event_types": "[]"}, "non-empty list"),
    ],
)
def test_the_add_form_refuses_what_the_api_refuses(staff_client, overrides, says):
    response = staff_client.post(
        reverse("admin:webhooks_webhookendpoint_add"), add_form(**overrides)
    )
    assert response.status_code == 200  # the form again, with the error
    assert says in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_the_add_form_refuses_a_17th_endpoint(staff_client, business):
    for _ in range(MAX_ENDPOINTS_PER_BUSINESS):
        WebhookEndpoint.objects.create(business=business, url=URL, event_types=["*"])
    response = staff_client.post(reverse("admin:webhooks_webhookendpoint_add"), add_form())
    assert response.status_code == 200
    assert "at most 16" in response.content.decode()
    assert WebhookEndpoint.objects.count() == MAX_ENDPOINTS_PER_BUSINESS


@pytest.mark.django_db
def test_unticking_active_deactivates_through_the_model_method(staff_client, ours):
    pending = delivery_of(ours)
    response = staff_client.post(
        reverse("admin:webhooks_webhookendpoint_change", args=[ours.pk]),
        add_form(active=""),
    )
    assert response.status_code == 302
    ours.refresh_from_db()
    pending.refresh_from_db()
    assert ours.active is False
    assert ours.disabled_reason == "deactivated by the business"
    assert (pending.status, pending.last_error) == (DeliveryStatus.FAILED, ENDPOINT_DISABLED)


@pytest.mark.django_db
def test_staff_list_deliveries_of_their_business_only(staff_client, ours, theirs):
    mine = delivery_of(ours)
    other = delivery_of(theirs)
    page = staff_client.get(reverse("admin:webhooks_delivery_changelist"))
    assert page.status_code == 200
    shown = {row.pk for row in page.context["cl"].result_list}
    assert shown == {mine.pk}
    assert other.pk not in shown
    assert "status.created" in page.content.decode()


@pytest.mark.django_db
def test_retry_now_schedules_the_selected_deliveries_keeping_their_attempts(staff_client, ours):
    failed = delivery_of(ours, status=DeliveryStatus.FAILED, attempts=8)
    succeeded = delivery_of(ours, status=DeliveryStatus.SUCCEEDED, attempts=1)
    response = staff_client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk, succeeded.pk]},
        follow=True,
    )
    assert "2 deliveries scheduled again" in response.content.decode()
    for delivery, attempts in ((failed, 8), (succeeded, 1)):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, attempts)
        assert delivery.next_attempt_at is not None


@pytest.mark.django_db
def test_retry_now_refuses_deliveries_of_an_inactive_endpoint(staff_client, ours):
    delivery = delivery_of(ours)
    ours.deactivate("the receiver answered 410")
    response = staff_client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "retry_now", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "inactive" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


@pytest.mark.django_db
def test_staff_cannot_retry_another_business_delivery(staff_client, theirs):
    delivery = delivery_of(theirs, status=DeliveryStatus.FAILED)
    staff_client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "retry_now", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


@pytest.mark.django_db
def test_a_delivery_opens_read_only(staff_client, ours):
    delivery = delivery_of(ours, status=DeliveryStatus.FAILED, last_error="HTTP 500")
    page = staff_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert "HTTP 500" in page.content.decode()
    assert f"evt_{delivery.event_id}" in page.content.decode()
    assert not page.context["adminform"].form.fields


@pytest.mark.django_db
def test_the_superuser_deliveries_list_names_each_business_and_staff_do_not_see_it(
    client, staff_client, ours, theirs
):
    import datetime as dt

    from accounts.models import Business

    Business.objects.filter(pk=ours.business_id).update(timezone="America/New_York")
    delivery_of(
        ours, last_attempt_at=dt.datetime(2025, 1, 11, 2, tzinfo=dt.UTC), last_error="x" * 300
    )
    delivery_of(theirs)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    page = client.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    staff_page = staff_client.get(reverse("admin:webhooks_delivery_changelist")).content.decode()

    assert page.count('class="field-business') == 2  # a column, one row each
    assert "2025-01-10 21:00 America/New_York" in page  # on the business's clock
    assert "x" * 31 + "…" in page  # the error cut short in the row
    assert "field-business" not in staff_page
