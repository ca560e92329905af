"""One small form per step of an import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from crm.models import ImportJob, ImportMapping

from .fields import IGNORE, fields_for
from .importer import MappingError, bind_columns


class SavedMappingChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ImportMapping) -> str:  # type: ignore[override]
        return f"{obj.name} ({obj.get_target_display()})"


class UploadForm(forms.Form):
    target = forms.ChoiceField(
        label=_("The file contains"),
        choices=ImportMapping.Target.choices,
        widget=forms.RadioSelect,
        initial=ImportMapping.Target.ORGANISATIONS,
    )
    file = forms.FileField(
        label=_("File (CSV or Excel .xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )
    mapping = SavedMappingChoiceField(
        label=_("Saved column mapping (optional)"),
        queryset=ImportMapping.objects.order_by("target", "name"),
        required=False,
        empty_label=_("– suggest from the column headings –"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_mb = settings.IMPORT_MAX_FILE_BYTES // (1024 * 1024)
        self.fields["file"].help_text = _(
            "The first row must contain the column headings. At most %(limit)s MB."
        ) % {"limit": limit_mb}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mapping = data.get("mapping")
        if mapping is not None and data.get("target") and mapping.target != data["target"]:
            self.add_error(
                "mapping", _("This mapping is for another kind of import than the one chosen.")
            )
        return data


class MappingForm(forms.Form):
    """One select per column of the file, plus a name to keep the mapping under."""

    save_as = forms.CharField(
        label=_("Save this mapping as (optional)"),
        max_length=120,
        required=False,
        help_text=_("Under this name the mapping can be chosen for the next file."),
    )

    def __init__(self, *args: Any, job: ImportJob, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        choices = [(IGNORE, _("– ignore –"))] + [
            (f.key, f"{f.label} *" if f.required else str(f.label)) for f in fields_for(job.target)
        ]
        self.column_names = []
        for index, header in enumerate(job.headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                initial=job.columns.get(str(index), IGNORE),
            )
            self.column_names.append(name)
        self.order_fields([*self.column_names, "save_as"])

    def columns(self) -> dict[str, str]:
        return {
            name.removeprefix("col_"): self.cleaned_data.get(name) or IGNORE
            for name in self.column_names
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                bind_columns(self.job.target, self.job.headers, self.columns())
            except MappingError as exc:
                raise forms.ValidationError(str(exc)) from None
        return data

    def column_rows(self) -> list[dict[str, Any]]:
        """Each column's select with the file's sample values, for the template."""
        samples = self.job.summary.get("samples", [])
        rows = []
        for index, name in enumerate(self.column_names):
            values = [r[index] for r in samples if index < len(r) and r[index]]
            rows.append({"field": self[name], "samples": values})
        return rows


class RunForm(forms.Form):
    allow_partial = forms.BooleanField(
        label=_("Import the valid rows anyway and skip the rejected ones"),
        required=False,
    )
