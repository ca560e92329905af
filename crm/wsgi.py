import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
application = get_wsgi_application()

# Everything loaded at start-up (apps, URL patterns, translations) lives as long as the
# process: keep it out of the cyclic garbage collector, whose full passes over it
# otherwise pause a request now and then by 50-80 ms (measured with `make bench`).
# Forked gunicorn workers also share these pages instead of copying them.
gc.freeze()
