from django.db import migrations

from pipeline.stages import install_default_stages


def install(apps, schema_editor):
    install_default_stages(apps)


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
