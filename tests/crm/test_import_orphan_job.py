from django.core.files.base import ContentFile
from django.urls import reverse

from crm.models import ImportJob


def test_jobs_of_deleted_users_still_show(client_as, administration):
    job = ImportJob(target="organisations", original_name="alt.csv", created_by=None)
    job.file.save("alt.csv", ContentFile(b"Name\nA\n"), save=False)
    job.save()
    client = client_as(administration)
    assert client.get(reverse("dataio:import_list")).status_code == 200
    assert client.get(reverse("dataio:import_detail", args=[job.uuid])).status_code == 200
