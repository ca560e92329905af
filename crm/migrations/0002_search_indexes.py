"""GIN indexes for search on PostgreSQL (trigram and German full text).

SQLite has no equivalent; there the search falls back to substring matching.
The full-text expression must equal what ``crm.search`` generates, or the
planner will not use the index.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

_INDEXES = {
    "crm_organisation": [
        ("org_search_trgm", "USING gin (search_text gin_trgm_ops)"),
        ("org_name_trgm", "USING gin (name gin_trgm_ops)"),
        (
            "org_search_fts",
            "USING gin (to_tsvector('german'::regconfig, COALESCE(search_text, ''::text)))",
        ),
    ],
    "crm_person": [
        ("person_search_trgm", "USING gin (search_text gin_trgm_ops)"),
        ("person_last_name_trgm", "USING gin (last_name gin_trgm_ops)"),
        (
            "person_search_fts",
            "USING gin (to_tsvector('german'::regconfig, COALESCE(search_text, ''::text)))",
        ),
    ],
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, indexes in _INDEXES.items():
        for name, definition in indexes:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for indexes in _INDEXES.values():
        for name, _definition in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create, drop),
    ]
