"""One small form per user action of the pipeline."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from crm.filters import users_with_role
from crm.forms import DateInput, TopicChoiceField, _Bootstrap
from crm.models import District, Municipality, Organisation, Person, Topic
from crm.roles import Role
from scouting.forms import UserChoiceField

from .models import Match, Outcome, Stage, TransferRequest

CONTACT_HINT_ID = "contact-person-hint"
_INNOVATION = Outcome._meta.get_field("innovation_introduced")


class ReadAtField(forms.DateTimeField):
    """When the object was read (its ``updated_at``), passed through the page unchanged:
    ISO 8601 in UTC to the microsecond, so no local-time round trip can shift it."""

    widget = forms.HiddenInput

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).isoformat()
        return value


class RequestForm(_Bootstrap, forms.ModelForm):
    """A new transfer request (the organisation is picked with the typeahead)."""

    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.all(),
        widget=forms.HiddenInput,
        error_messages={"required": _("Choose the requesting organisation.")},
    )
    topics = TopicChoiceField(
        label=_("Topics"),
        queryset=Topic.objects.select_related("parent").order_by("parent__name", "name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    responsible_manager = UserChoiceField(
        label=_("Responsible network manager"),
        queryset=users_with_role(Role.NETWORK_MANAGER),
        required=False,
    )

    class Meta:
        model = TransferRequest
        fields = [
            "organisation",
            "contact_person",
            "title",
            "description",
            "topics",
            "kind",
            "source",
            "responsible_manager",
            "priority",
            "expected_volume",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the people of the chosen organisation; the list is small.
        organisation_id = str(
            self.data.get("organisation") or self.initial.get("organisation") or ""
        )
        people = Person.objects.none()
        if organisation_id.isascii() and organisation_id.isdigit() and len(organisation_id) < 19:
            people = Person.objects.filter(affiliations__organisation_id=int(organisation_id))
        contact = self.fields["contact_person"]
        contact.queryset = people.distinct().order_by("last_name", "first_name")
        # The list follows the organisation; a hint next to it says what it holds.
        contact.widget.attrs["aria-describedby"] = CONTACT_HINT_ID
        if "source" in self.fields:  # requests from visits are made on the visit's page
            self.fields["source"].choices = [
                c for c in self.fields["source"].choices if c[0] != TransferRequest.Source.VISIT
            ]


class RequestEditForm(RequestForm):
    """The request's own fields; the organisation and the source stay as created.
    ``updated_at`` carries when the page was read, so a change made meanwhile by
    someone else is not overwritten."""

    updated_at = ReadAtField(required=False)

    class Meta(RequestForm.Meta):
        fields = [
            "contact_person",
            "title",
            "description",
            "topics",
            "kind",
            "responsible_manager",
            "priority",
            "expected_volume",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        instance = kwargs["instance"]
        initial = kwargs.setdefault("initial", {})
        initial["organisation"] = instance.organisation_id
        initial["updated_at"] = instance.updated_at
        super().__init__(*args, **kwargs)
        del self.fields["organisation"]


class BoardPageForm(forms.Form):
    """Where the next cards of a board column start: after the last card shown, by time
    in the stage (oldest first) and id. Without it, the column starts from the top."""

    after = forms.DateTimeField(required=False)
    after_id = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("after") is None) != (data.get("after_id") is None):
            raise forms.ValidationError(_("Give both the time and the id of the last card."))
        return data

    def cursor(self) -> tuple[datetime.datetime, int] | None:
        data = self.cleaned_data
        return None if data.get("after") is None else (data["after"], data["after_id"])


class MoveForm(_Bootstrap, forms.Form):
    """Move a request to another stage, with what that stage requires."""

    to = forms.ModelChoiceField(
        label=_("New stage"), queryset=Stage.objects.none(), empty_label=None
    )
    expected_stage = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    closing_reason = forms.CharField(
        label=_("Closing reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    expected_volume = forms.DecimalField(
        label=_("Expected volume (EUR)"), required=False, min_value=0, decimal_places=2
    )
    outcome_kind = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=[("", "—"), *Outcome.Kind.choices]
    )
    outcome_date = forms.DateField(
        label=_("Date of the outcome"), required=False, widget=DateInput()
    )
    outcome_partner = forms.ModelChoiceField(
        label=_("Partner of the outcome"), queryset=Organisation.objects.none(), required=False
    )
    funding_programme = forms.CharField(
        label=_("Funding programme"), required=False, max_length=200
    )
    outcome_innovation_introduced = forms.BooleanField(
        label=capfirst(_INNOVATION.verbose_name),
        help_text=_INNOVATION.help_text,
        required=False,
    )

    def __init__(self, *args: Any, transfer_request: TransferRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transfer_request = transfer_request
        stages = Stage.objects.active().exclude(pk=transfer_request.stage_id)
        if transfer_request.is_closed():
            stages = stages.filter(kind=Stage.Kind.OPEN)
        self.fields["to"].queryset = stages.order_by("position", "pk")
        self.fields["outcome_partner"].queryset = Organisation.objects.filter(
            pk__in=transfer_request.matches.values("partner_id")
        ).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Ticked without an outcome, the innovation would be dropped unseen.
        if data.get("outcome_innovation_introduced") and not data.get("outcome_kind"):
            self.add_error("outcome_kind", _("Choose the outcome the innovation came from."))
        return data

    def advance_fields(self) -> dict[str, Any]:
        """What to pass to ``advance_request`` besides the stage."""
        data = self.cleaned_data
        target: Stage = data["to"]
        fields: dict[str, Any] = {}
        required = set(target.required_fields)
        if data.get("closing_reason") or "closing_reason" in required:
            fields["closing_reason"] = data.get("closing_reason", "")
        if data.get("expected_volume") is not None:
            fields["expected_volume"] = data["expected_volume"]
        if data.get("outcome_kind"):
            fields["outcome"] = {
                "kind": data["outcome_kind"],
                "date": data.get("outcome_date"),
                "partner": data.get("outcome_partner"),
                "funding_programme": data.get("funding_programme", ""),
                "innovation_introduced": bool(data.get("outcome_innovation_introduced")),
            }
        return fields


class MatchForm(_Bootstrap, forms.Form):
    partner = forms.ModelChoiceField(
        label=_("Research partner"),
        queryset=Organisation.objects.all(),
        widget=forms.HiddenInput,
        error_messages={"required": _("Choose a research partner.")},
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class MatchStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Match.Status.choices)


class OutcomeForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = Outcome
        fields = ["kind", "date", "partner", "funding_programme", "innovation_introduced", "note"]
        widgets = {"date": DateInput(), "note": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, transfer_request: TransferRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = Organisation.objects.filter(
            pk__in=transfer_request.matches.values("partner_id")
        ).order_by("name")


class MetricsForm(_Bootstrap, forms.Form):
    """The period and focus of the pipeline figures."""

    start = forms.DateField(label=_("From"), widget=DateInput())
    end = forms.DateField(label=_("To"), widget=DateInput())
    manager = UserChoiceField(
        label=_("Responsible"),
        queryset=users_with_role(Role.NETWORK_MANAGER),
        required=False,
        empty_label=_("all"),
    )
    district = forms.ModelChoiceField(
        label=_("District"), queryset=District.objects.all(), required=False, empty_label=_("all")
    )
    area_type = forms.ChoiceField(
        label=_("Rural/urban"),
        choices=[("", _("all")), *Municipality.AreaType.choices],
        required=False,
    )

    def __init__(self, *args: Any, staff: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not staff:
            del self.fields["manager"]  # the funding body sees no staff names

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", _("“To” lies before “From”."))
        if start and end and (end - start).days > 3 * 366:
            self.add_error("end", _("Choose a period of at most three years."))
        return data
