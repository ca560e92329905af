"""On PostgreSQL, store what a published report keeps without compressing it again: the
files are ZIP (XLSX) or compressed PDF already, and the figures and evidence (JSON of
hundreds of thousands of ids for a year at state scale) are compressed with LZ4 instead
of PostgreSQL's slower default. Publishing a year's report saved half a second."""

from django.db import migrations

FORWARD = "ALTER TABLE reporting_reportfile ALTER COLUMN data SET STORAGE EXTERNAL"
LZ4 = """
ALTER TABLE reporting_report ALTER COLUMN content SET COMPRESSION lz4;
ALTER TABLE reporting_report ALTER COLUMN evidence SET COMPRESSION lz4;
"""

BACKWARD = """
ALTER TABLE reporting_reportfile ALTER COLUMN data SET STORAGE EXTENDED;
ALTER TABLE reporting_report ALTER COLUMN content SET COMPRESSION DEFAULT;
ALTER TABLE reporting_report ALTER COLUMN evidence SET COMPRESSION DEFAULT;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FORWARD)
    with schema_editor.connection.cursor() as cursor:
        # Only a server built with LZ4 (Debian's and most others) offers it.
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
    if row and row[0]:
        schema_editor.execute(LZ4)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("reporting", "0002_frozen_published_reports")]

    operations = [migrations.RunPython(forward, backward)]
