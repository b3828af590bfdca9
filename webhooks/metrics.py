"""The webhook backlog as Prometheus gauges, read from the Delivery table at each
scrape (settings.METRICS_COLLECTORS): what an operator alerts on when receivers or
the workers fall behind."""

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from webhooks.models import Delivery, DeliveryStatus


class DeliveryBacklogCollector:
    """Deliveries pending and failed, and how long the oldest pending one has waited.
    Two queries on the `delivery_due` index (status first): the counts read the
    index alone; the oldest reads the pending rows, which are few unless the workers
    fall behind."""

    def collect(self):
        counts = dict(
            Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED])
            .values_list("status")
            .annotate(count=Count("*"))
            .order_by()
        )
        deliveries = GaugeMetricFamily(
            "webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        for status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
            deliveries.add_metric([status.value], counts.get(status.value, 0))
        yield deliveries
        oldest = Delivery.objects.filter(status=DeliveryStatus.PENDING).aggregate(
            created_at=Min("created_at")
        )["created_at"]
        yield GaugeMetricFamily(
            "webhook_oldest_pending_delivery_age_seconds",
            "Seconds since the oldest pending delivery was created (0 when none is).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )
