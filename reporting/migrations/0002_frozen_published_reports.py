"""On PostgreSQL, refuse at the database what the model refuses: changing or deleting a
published report, its files or its districts — also through QuerySet.update(), raw SQL or
a bulk delete that never calls the model's save() or delete()."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION reporting_refuse_published() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'A published report cannot be changed (report %).', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER reporting_report_frozen BEFORE UPDATE OR DELETE ON reporting_report
    FOR EACH ROW EXECUTE FUNCTION reporting_refuse_published();

CREATE FUNCTION reporting_refuse_published_part() RETURNS trigger AS $$
DECLARE
    target integer;
BEGIN
    target := CASE WHEN TG_OP = 'INSERT' THEN NEW.report_id ELSE OLD.report_id END;
    IF TG_TABLE_NAME = 'reporting_reportfile' AND TG_OP = 'INSERT' THEN
        RETURN NEW;  -- files are added while publishing; never changed after
    END IF;
    IF TG_TABLE_NAME = 'reporting_reportfile'
       OR EXISTS (SELECT 1 FROM reporting_report WHERE id = target AND status = 'published') THEN
        RAISE EXCEPTION 'A published report cannot be changed (report %).', target
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER reporting_reportfile_frozen BEFORE INSERT OR UPDATE OR DELETE
    ON reporting_reportfile
    FOR EACH ROW EXECUTE FUNCTION reporting_refuse_published_part();

CREATE TRIGGER reporting_report_districts_frozen BEFORE INSERT OR UPDATE OR DELETE
    ON reporting_report_districts
    FOR EACH ROW EXECUTE FUNCTION reporting_refuse_published_part();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS reporting_report_districts_frozen ON reporting_report_districts;
DROP TRIGGER IF EXISTS reporting_reportfile_frozen ON reporting_reportfile;
DROP TRIGGER IF EXISTS reporting_report_frozen ON reporting_report;
DROP FUNCTION IF EXISTS reporting_refuse_published_part();
DROP FUNCTION IF EXISTS reporting_refuse_published();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("reporting", "0001_reports")]

    operations = [migrations.RunPython(forward, backward)]
