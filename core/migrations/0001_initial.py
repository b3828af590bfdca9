# IdempotencyKey moves from accounts to core: the table stays as it is
# (accounts_idempotencykey); only Django's idea of which app owns it changes.

import django.db.models.deletion
import django.utils.timezone
import rest_framework.utils.encoders
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0005_idempotency_body_encoder'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='IdempotencyKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255)),
                        ('request_fingerprint', models.CharField(max_length=64)),
                        ('response_status', models.PositiveSmallIntegerField(null=True)),
                        ('response_body', models.JSONField(encoder=rest_framework.utils.encoders.JSONEncoder, null=True)),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ('business', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.business')),
                    ],
                    options={
                        'db_table': 'accounts_idempotencykey',
                        'constraints': [models.UniqueConstraint(fields=('business', 'key'), name='idempotency_key_per_business')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
