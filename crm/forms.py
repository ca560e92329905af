"""One small form per user action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .filters import managers
from .models import (
    Affiliation,
    ConsentRecord,
    Note,
    Organisation,
    Person,
    Relationship,
    Topic,
)


class _Bootstrap:
    """Bootstrap classes on every widget, so templates stay plain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.CheckboxSelectMultiple):
                continue
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def topic_label(topic: Topic) -> str:
    return f"{topic.parent.name} › {topic.name}" if topic.parent_id else topic.name


class TopicChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Topic) -> str:  # type: ignore[override]
        return topic_label(obj)


class TopicField(forms.ModelChoiceField):
    """One topic, named with its parent."""

    def label_from_instance(self, obj: Topic) -> str:  # type: ignore[override]
        return topic_label(obj)


class OrganisationForm(_Bootstrap, forms.ModelForm):
    offered_topics = TopicChoiceField(
        label=_("Competences (offered topics)"),
        queryset=Topic.objects.select_related("parent"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    needed_topics = TopicChoiceField(
        label=_("Needs (topics)"),
        queryset=Topic.objects.select_related("parent"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    website = forms.URLField(
        label=_("website"), max_length=300, required=False, assume_scheme="https"
    )
    confirm_not_duplicate = forms.BooleanField(
        label=_("I have checked the similar records: this is a different organisation."),
        required=False,
    )

    class Meta:
        model = Organisation
        fields = [
            "name",
            "kind",
            "legal_form",
            "employees",
            "sector",
            "founding_year",
            "street",
            "postal_code",
            "city",
            "municipality",
            "website",
            "email",
            "phone",
            "register_number",
            "external_id",
            "responsible_manager",
            "status",
            "directory_consent",
            "offered_topics",
            "needed_topics",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["responsible_manager"].queryset = managers()
        self.fields["municipality"].queryset = self.fields["municipality"].queryset.select_related(
            "district"
        )


class PersonForm(_Bootstrap, forms.ModelForm):
    confirm_not_duplicate = forms.BooleanField(
        label=_("I have checked the similar records: this is a different person."),
        required=False,
    )

    class Meta:
        model = Person
        fields = [
            "salutation",
            "title",
            "first_name",
            "last_name",
            "email",
            "phone",
            "mobile",
            "preferred_language",
            "external_id",
        ]


class NewPersonAffiliationForm(_Bootstrap, forms.Form):
    """The affiliation created together with a new person (optional)."""

    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.all(),
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": _("ID")}),
    )
    function = forms.CharField(label=_("Function"), max_length=120, required=False)


class AffiliationForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = Affiliation
        fields = [
            "organisation",
            "function",
            "department",
            "email",
            "phone",
            "valid_from",
            "valid_until",
            "is_primary",
        ]
        widgets = {"valid_from": DateInput(), "valid_until": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A typeahead fills the id; a select of 300,000 organisations would not load.
        self.fields["organisation"].widget = forms.HiddenInput()


class ConsentForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = ConsentRecord
        fields = ["purpose", "lawful_basis", "given_at", "source"]
        widgets = {"given_at": DateTimeInput()}


class RelationshipForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = Relationship
        fields = ["target", "kind", "valid_from", "valid_until", "note"]
        widgets = {"valid_from": DateInput(), "valid_until": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].widget = forms.HiddenInput()


class NoteForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = Note
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}


class MergeForm(_Bootstrap, forms.Form):
    other = forms.IntegerField(
        label=_("ID of the duplicate to merge into this record"), min_value=1
    )
    confirm = forms.BooleanField(
        label=_("I understand that the duplicate is removed and its data moves here."),
        required=True,
    )


class BulkOrganisationForm(_Bootstrap, forms.Form):
    ACTIONS = [
        ("assign_manager", _("Assign responsible manager")),
        ("set_status", _("Set status")),
    ]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    ids = forms.ModelMultipleChoiceField(
        queryset=Organisation.objects.all(), widget=forms.MultipleHiddenInput
    )
    responsible_manager = forms.ModelChoiceField(
        label=_("Responsible manager"), queryset=managers(), required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", "—"), *Organisation.Status.choices], required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "assign_manager" and not data.get("responsible_manager"):
            self.add_error("responsible_manager", _("Choose a network manager."))
        if data.get("action") == "set_status" and not data.get("status"):
            self.add_error("status", _("Choose a status."))
        return data
