import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Periodic jobs are declared here, statically, so beat needs no database scheduler.
# Times are in CELERY_TIMEZONE (Europe/Berlin).
app.conf.beat_schedule = {
    "scouting-daily-digest": {
        "task": "scouting.tasks.send_daily_digest",
        "schedule": crontab(hour=6, minute=30),
    },
}
