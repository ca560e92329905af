"""One small form per user action of scouting."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.filters import users_with_role
from crm.forms import DateInput, DateTimeInput, TopicChoiceField, _Bootstrap
from crm.models import ConsentRecord, Municipality, Organisation, Person, Topic
from crm.roles import Role

from .models import SUMMARY_MAX_LENGTH, FollowUp, GuideQuestion, InterviewGuide, Need, Visit

ANSWER_PREFIX = "answer_"
YES, NO = "yes", "no"


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class UserMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class VisitForm(_Bootstrap, forms.Form):
    """The whole visit on one screen: the organisation (picked or new), the people met
    (picked or one new with a consent basis), findings, the guide's questions, and an
    optional follow-up proposal."""

    uuid = forms.UUIDField(widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.all(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("This organisation no longer exists.")},
    )
    new_organisation_name = forms.CharField(
        label=_("Name of the new organisation"), max_length=200, required=False
    )
    new_organisation_kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Organisation.Kind.choices,
        initial=Organisation.Kind.SME,
        required=False,
    )
    new_organisation_municipality = forms.ModelChoiceField(
        label=_("Municipality"),
        queryset=Municipality.objects.select_related("district").order_by("name"),
        required=False,
    )
    confirm_not_duplicate = forms.BooleanField(
        label=_("I have checked the similar records: this is a different organisation."),
        required=False,
    )
    visited_at = forms.DateTimeField(
        label=_("Date and time"), widget=DateTimeInput(), initial=timezone.now
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=Visit.Format.choices,
        initial=Visit.Format.ON_SITE,
        widget=forms.RadioSelect,
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=Visit.Purpose.choices,
        initial=Visit.Purpose.FIRST_CONTACT,
        widget=forms.RadioSelect,
    )
    co_scouts = UserMultipleChoiceField(
        label=_("Other scouts who were there"),
        queryset=users_with_role(Role.SCOUT, Role.NETWORK_MANAGER),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )
    people_met = forms.ModelMultipleChoiceField(
        label=_("People met"),
        queryset=Person.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    new_person_first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    new_person_last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    new_person_function = forms.CharField(label=_("Function"), max_length=120, required=False)
    new_person_email = forms.EmailField(label=_("Email"), required=False)
    new_person_phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    new_person_lawful_basis = forms.ChoiceField(
        label=_("Basis for storing the contact (GDPR)"),
        choices=[("", _("— please choose —")), *ConsentRecord.LawfulBasis.choices],
        required=False,
    )
    topics = TopicChoiceField(
        label=_("Topics discussed"),
        queryset=Topic.objects.select_related("parent").order_by("parent__name", "name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    needs = forms.MultipleChoiceField(
        label=_("Needs"), choices=Need.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    green_skills_interest = forms.BooleanField(
        label=_("Interested in the green-skills campaign"), required=False
    )
    summary = forms.CharField(
        label=_("Summary"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=SUMMARY_MAX_LENGTH,
    )
    is_confidential = forms.BooleanField(
        label=_("Confidential (only the visit's scouts and the network managers see it)"),
        required=False,
    )
    follow_up_title = forms.CharField(
        label=_("Propose a follow-up"),
        max_length=200,
        required=False,
        help_text=_("Optional: what should happen next? A network manager assigns it."),
    )
    follow_up_description = forms.CharField(
        label=_("Details of the follow-up"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self,
        *args: Any,
        guide: InterviewGuide | None,
        user: Any,
        organisation: Organisation | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.guide = guide
        self.questions: list[GuideQuestion] = list(guide.questions()) if guide else []
        self.fields["co_scouts"].queryset = self.fields["co_scouts"].queryset.exclude(pk=user.pk)
        # The people offered are those of the chosen organisation (the picker is reloaded
        # when it changes); any valid choice is checked against it in clean().
        chosen = organisation or self._organisation_from_data()
        self.fields["people_met"].queryset = (
            Person.objects.filter(affiliations__organisation=chosen)
            .distinct()
            .order_by("last_name", "first_name")
            if chosen
            else Person.objects.none()
        )
        for question in self.questions:
            self.fields[ANSWER_PREFIX + question.key] = _answer_field(question)

    def _organisation_from_data(self) -> Organisation | None:
        raw = self.data.get(self.add_prefix("organisation")) if self.is_bound else None
        if not raw and self.initial.get("organisation"):
            raw = self.initial["organisation"]
        if isinstance(raw, Organisation):
            return raw
        if raw and str(raw).isdigit():
            return Organisation.objects.filter(pk=int(raw)).first()
        return None

    @property
    def guide_sections(self) -> list[tuple[str, list[Any]]]:
        """The guide's answer fields grouped by section, in order, for the template."""
        sections: list[tuple[str, list[Any]]] = []
        for question in self.questions:
            title = question.section.title
            if not sections or sections[-1][0] != title:
                sections.append((title, []))
            sections[-1][1].append(self[ANSWER_PREFIX + question.key])
        return sections

    @property
    def new_person_fields(self) -> list[Any]:
        return [self[n] for n in self.fields if n.startswith("new_person_")]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        organisation = data.get("organisation")
        new_name = (data.get("new_organisation_name") or "").strip()
        if organisation is None and not new_name and "organisation" not in self.errors:
            self.add_error(
                "organisation",
                _("Choose the organisation you visited, or enter the name of a new one."),
            )
        if organisation is None and new_name and not data.get("new_organisation_municipality"):
            self.add_error(
                "new_organisation_municipality",
                _("Choose the municipality of the new organisation."),
            )
        self._clean_new_person(data)
        if data.get("follow_up_description") and not data.get("follow_up_title"):
            self.add_error("follow_up_title", _("Give the follow-up a short title."))
        return data

    def clean_visited_at(self) -> datetime.datetime:
        visited_at = self.cleaned_data["visited_at"]
        probe = Visit(visited_at=visited_at)
        error = probe._date_error()
        if error:
            raise forms.ValidationError(error)
        return visited_at

    def _clean_new_person(self, data: dict[str, Any]) -> None:
        names = (data.get("new_person_first_name"), data.get("new_person_last_name"))
        others = [data.get(f"new_person_{n}") for n in ("function", "email", "phone")]
        if not any(names) and not any(others):
            return
        if not data.get("new_person_last_name"):
            self.add_error("new_person_last_name", _("Enter the last name of the new person."))
        if not data.get("new_person_lawful_basis"):
            self.add_error(
                "new_person_lawful_basis",
                _("Record on which basis you may store this person's contact details."),
            )

    def has_new_person(self) -> bool:
        return bool(self.cleaned_data.get("new_person_last_name"))

    def answers(self) -> dict[str, Any]:
        """The guide answers in their stored types, unanswered questions left out."""
        answers: dict[str, Any] = {}
        for question in self.questions:
            value = self.cleaned_data.get(ANSWER_PREFIX + question.key)
            if value in (None, ""):
                continue
            if question.kind == GuideQuestion.Kind.YES_NO:
                value = value == YES
            elif question.kind == GuideQuestion.Kind.NUMBER:
                value = int(value) if value == int(value) else float(value)
            answers[question.key] = value
        return answers

    @staticmethod
    def initial_for(visit: Visit) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "uuid": visit.uuid,
            "version": visit.version,
            "organisation": visit.organisation_id,
            "visited_at": timezone.localtime(visit.visited_at),
            "format": visit.format,
            "purpose": visit.purpose,
            "people_met": list(visit.people_met.values_list("pk", flat=True)),
            "topics": list(visit.topics.values_list("pk", flat=True)),
            "needs": visit.needs,
            "green_skills_interest": visit.green_skills_interest,
            "summary": visit.summary,
            "is_confidential": visit.is_confidential,
        }
        for key, value in (visit.answers or {}).items():
            if isinstance(value, bool):
                value = YES if value else NO
            initial[ANSWER_PREFIX + key] = value
        return initial


def _answer_field(question: GuideQuestion) -> forms.Field:
    label = question.text
    if question.kind == GuideQuestion.Kind.YES_NO:
        return forms.ChoiceField(
            label=label,
            choices=[(YES, _("yes")), (NO, _("no")), ("", _("not asked"))],
            required=False,
            widget=forms.RadioSelect,
        )
    if question.kind == GuideQuestion.Kind.CHOICE:
        return forms.ChoiceField(
            label=label,
            choices=[*((c, c) for c in question.choices), ("", _("not asked"))],
            required=False,
            widget=forms.RadioSelect,
        )
    if question.kind == GuideQuestion.Kind.NUMBER:
        return forms.DecimalField(
            label=label,
            required=False,
            min_value=0,
            max_value=10**9,
            decimal_places=2,
            widget=forms.NumberInput(attrs={"inputmode": "decimal", "class": "form-control"}),
        )
    return forms.CharField(
        label=label,
        required=False,
        max_length=5_000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


class FollowUpProposalForm(_Bootstrap, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DateInput())
    priority = forms.ChoiceField(
        label=_("Priority"), choices=FollowUp.Priority.choices, initial=FollowUp.Priority.NORMAL
    )


class AssignForm(_Bootstrap, forms.Form):
    """Assign one or many follow-ups (the ids come from the list's checkboxes)."""

    assignee = UserChoiceField(
        label=_("Assignee"),
        queryset=users_with_role(Role.SCOUT, Role.NETWORK_MANAGER, Role.ADMINISTRATION),
        empty_label=_("— choose a person —"),
    )
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DateInput())
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=[("", _("unchanged")), *FollowUp.Priority.choices],
        required=False,
    )

    def clean_due_date(self) -> datetime.date | None:
        due = self.cleaned_data.get("due_date")
        if due and due < timezone.localdate() - datetime.timedelta(days=365):
            raise forms.ValidationError(_("This due date lies more than a year in the past."))
        return due


class CompleteForm(_Bootstrap, forms.Form):
    note = forms.CharField(
        label=_("What was done?"),
        required=False,
        max_length=5_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class FollowUpEditForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = FollowUp
        fields = ["title", "description", "due_date", "priority"]
        widgets = {"due_date": DateInput(), "description": forms.Textarea(attrs={"rows": 3})}
