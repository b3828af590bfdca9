"""Response shapes of the accounts API."""

from rest_framework import serializers

from accounts.models import Business


class BusinessSerializer(serializers.ModelSerializer):
    class Meta:
        model = Business
        fields = ["id", "name", "timezone"]
        read_only_fields = fields
