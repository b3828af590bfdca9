# IdempotencyKey now belongs to the core app (core/migrations/0001_initial.py); its
# table stays where it is.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_idempotency_body_encoder'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='IdempotencyKey')],
            database_operations=[],
        ),
    ]
