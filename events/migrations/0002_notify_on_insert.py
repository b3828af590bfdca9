# On PostgreSQL, every statement that inserts events notifies the channel the webhook
# workers LISTEN on (webhooks/worker.py NOTIFY_CHANNEL), delivered when the writing
# transaction commits: an idle worker wakes at once instead of at its next 1 s poll.
# A trigger rather than a statement in each write path: no extra round trip, and the
# set-based inserts of the data fixes notify too. SQLite has no NOTIFY: workers poll.

from django.db import migrations

CREATE = """
CREATE FUNCTION events_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhook_events', '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_event_notify AFTER INSERT ON events_event
    FOR EACH STATEMENT EXECUTE FUNCTION events_event_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS events_event_notify ON events_event;
DROP FUNCTION IF EXISTS events_event_notify();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0001_events"),
    ]

    operations = [
        migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP)),
    ]
