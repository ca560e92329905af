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
    # Every morning; the task itself knows whether a finished quarter's draft is due
    # (first working day after the quarter, or later if beat was down) and makes it once.
    "reporting-quarterly-draft": {
        "task": "reporting.tasks.create_quarterly_draft",
        "schedule": crontab(hour=6, minute=0),
    },
    # Every six hours, as long as finished periods' figures stay cached.
    "reporting-warm-dashboard": {
        "task": "reporting.tasks.warm_dashboard",
        "schedule": crontab(hour="*/6", minute=15),
    },
}
