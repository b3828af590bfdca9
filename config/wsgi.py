"""WSGI entry point (gunicorn config.wsgi)."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What start-up built (Django, the apps, and the URLconf with every view and serializer
# it imports) lives as long as the process. Frozen out of the garbage collector's
# generations, it is no longer walked by each full collection, which is long on a heap
# this size and lands on whichever request is running: the slowest requests get faster.
import_module(settings.ROOT_URLCONF)
gc.collect()
gc.freeze()
