from django.db import migrations

from scouting.guide import install_default_guide, remove_default_guide


def forwards(apps, schema_editor):
    install_default_guide(apps)


def backwards(apps, schema_editor):
    remove_default_guide(apps)


class Migration(migrations.Migration):
    dependencies = [("scouting", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
