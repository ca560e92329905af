"""Drop the trigram index on the organisation name.

Duplicate detection now uses the search_text trigram index, and every GIN index
costs import throughput (each of the three cost 15-20 % of COPY speed at state scale).
"""

from django.db import migrations


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS org_name_trgm")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS org_name_trgm ON crm_organisation "
            "USING gin (name gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_search_indexes")]

    operations = [migrations.RunPython(drop, create)]
