"""Use cases of scouting: recording and submitting visits, raising and assigning follow-ups."""

from __future__ import annotations

import datetime
import uuid as uuid_lib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from crm.models import Affiliation, ConsentRecord, Organisation, Person, Topic
from crm.roles import Role
from crm.services import (
    create_organisation,
    create_person,
    delete_with_history,
    record_consent,
    save_with_history,
)

from .models import (
    FollowUp,
    FollowUpRule,
    GuideQuestion,
    GuideSection,
    InterviewGuide,
    Visit,
)
from .notifications import notify_assignment

User = AbstractBaseUser

# What a client may set on a visit; status, version and authorship are the services' job.
VISIT_FIELDS = frozenset(
    {
        "organisation",
        "visited_at",
        "format",
        "purpose",
        "needs",
        "green_skills_interest",
        "summary",
        "is_confidential",
        "guide_version",
        "answers",
    }
)


class VisitAccessError(PermissionDenied):
    """The user may not do this with this visit."""


class FollowUpAccessError(PermissionDenied):
    """The user may not do this with these follow-ups."""


class StaleVisit(Exception):
    """The visit changed since the client read it; it must reload before saving."""

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(f"expected version {expected}, visit is at version {current}")
        self.expected = expected
        self.current = current


# --- Visits --------------------------------------------------------------------------


def record_visit(
    *,
    uuid: uuid_lib.UUID | str,
    organisation: Organisation,
    by: User,
    scouts: Iterable[User] | None = None,
    people_met: Iterable[Person] = (),
    topics: Iterable[Topic] = (),
    **fields: Any,
) -> tuple[Visit, bool]:
    """Store a draft visit under the client's UUID; sent again, the stored one is
    returned unchanged. Returns the visit and whether it was created.

    ``scouts`` defaults to the recording user.
    """
    if not by.has_perm("scouting.add_visit"):
        raise VisitAccessError(_("You may not record visits."))
    unknown = set(fields) - VISIT_FIELDS
    if unknown:
        raise TypeError(f"record_visit() got unexpected fields: {sorted(unknown)}")
    existing = _visit_by_uuid(uuid, by=by)
    if existing is not None:
        return existing, False
    visit = Visit(uuid=uuid, organisation=organisation, created_by=by, **fields)
    if "guide_version" not in fields:
        visit.guide_version = InterviewGuide.objects.current()
    try:
        with transaction.atomic():
            save_with_history(visit, by=by)
            _set_visit_relations(
                visit, scouts=list(scouts or [by]), people_met=people_met, topics=topics, by=by
            )
    except IntegrityError:
        # The same visit arrived twice at once: the other request stored it.
        existing = _visit_by_uuid(uuid, by=by)
        if existing is None:
            raise
        return existing, False
    return visit, True


def _visit_by_uuid(uuid: uuid_lib.UUID | str, *, by: User) -> Visit | None:
    visit = Visit.objects.filter(uuid=uuid).first()
    if visit is not None and not Visit.objects.for_user(by).filter(pk=visit.pk).exists():
        raise VisitAccessError(_("This visit belongs to someone else."))
    return visit


def _set_visit_relations(
    visit: Visit,
    *,
    scouts: Iterable[User] | None = None,
    people_met: Iterable[Person] | None = None,
    topics: Iterable[Topic] | None = None,
    by: User,
) -> None:
    # simple-history records M2M changes through m2m_changed with the instance's user.
    visit._history_user = by  # type: ignore[attr-defined]
    if scouts is not None:
        scouts = list(scouts)
        if not scouts:
            raise ValidationError({"scouts": _("A visit needs at least one scout.")})
        visit.scouts.set(scouts)
    if people_met is not None:
        people = list(people_met)
        strangers = _not_affiliated(people, organisation_id=visit.organisation_id)
        if strangers:
            raise ValidationError(
                {
                    "people_met": _("%(names)s did not work at the visited organisation.")
                    % {"names": ", ".join(str(p) for p in strangers)}
                }
            )
        visit.people_met.set(people)
    if topics is not None:
        visit.topics.set(list(topics))


def _not_affiliated(people: list[Person | int], *, organisation_id: int) -> list[Any]:
    """The people (objects or ids) without an affiliation, past or present, with the
    organisation."""
    if not people:
        return []
    ids = {p if isinstance(p, int) else p.pk for p in people}
    affiliated = set(
        Affiliation.objects.filter(organisation_id=organisation_id, person_id__in=ids).values_list(
            "person_id", flat=True
        )
    )
    return [p for p in people if (p if isinstance(p, int) else p.pk) not in affiliated]


@transaction.atomic
def update_visit(visit: Visit, *, expected_version: int, by: User, **changes: Any) -> Visit:
    """Change a visit the client read at ``expected_version``.

    Raises ``StaleVisit`` if it changed since, ``VisitAccessError`` if ``by`` may not
    edit it. ``scouts``, ``people_met`` and ``topics`` replace the related sets.
    """
    relations = {k: changes.pop(k) for k in ("scouts", "people_met", "topics") if k in changes}
    unknown = set(changes) - VISIT_FIELDS
    if unknown:
        raise TypeError(f"update_visit() got unexpected fields: {sorted(unknown)}")
    locked = Visit.objects.select_for_update().get(pk=visit.pk)
    _check_editable(locked, by=by)
    if locked.version != expected_version:
        raise StaleVisit(expected=expected_version, current=locked.version)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.version += 1
    reason = None if locked.is_draft() else _("Changed after submission")
    save_with_history(locked, by=by, reason=reason)
    _set_visit_relations(locked, **relations, by=by)
    return locked


def _check_editable(visit: Visit, *, by: User) -> None:
    if not by.has_perm("scouting.change_visit") or not visit.is_editable_by(by):
        raise VisitAccessError(_("Only the visit's scouts and network managers may change it."))


@transaction.atomic
def submit_visit(visit: Visit, *, by: User) -> Visit:
    """Submit a draft and raise the follow-ups the interview guide's rules call for."""
    locked = Visit.objects.select_for_update().get(pk=visit.pk)
    _check_editable(locked, by=by)
    locked.submit()
    locked.version += 1
    save_with_history(locked, by=by, reason=_("Submitted"))
    apply_follow_up_rules(locked, by=by)
    return locked


@transaction.atomic
def discard_draft(visit: Visit, *, by: User) -> None:
    """Delete a draft nobody needs (history keeps a record of it). Its proposed
    follow-ups go with it; one already assigned to someone keeps the draft."""
    locked = Visit.objects.select_for_update().get(pk=visit.pk)
    _check_editable(locked, by=by)
    if not locked.is_draft():
        raise ValidationError(_("Only drafts can be discarded; this visit has been submitted."))
    follow_ups = list(FollowUp.objects.select_for_update().filter(visit=locked))
    if any(f.assignee_id for f in follow_ups):
        raise ValidationError(
            _(
                "Someone has already been assigned a follow-up of this draft: submit it, "
                "or ask a network manager to cancel that follow-up first."
            )
        )
    for follow_up in follow_ups:
        delete_with_history(follow_up, by=by)
    delete_with_history(locked, by=by)


def apply_follow_up_rules(visit: Visit, *, by: User) -> list[FollowUp]:
    """Create the follow-ups the guide's rules raise for the visit's answers; a rule
    that already raised one for this visit is skipped."""
    if visit.guide_version_id is None or not visit.answers:
        return []
    rules = FollowUpRule.objects.filter(question__section__guide_id=visit.guide_version_id)
    already = set(visit.follow_ups.filter(rule__isnull=False).values_list("rule_id", flat=True))
    now = timezone.now()
    today = timezone.localdate()
    created = []
    for rule in rules.select_related("question", "assignee").order_by("pk"):
        if rule.pk in already or not rule.matches(visit.answers):
            continue
        assignee = rule.assignee
        if assignee is None and rule.assignee_role == Role.NETWORK_MANAGER:
            assignee = visit.organisation.responsible_manager
        created.append(
            FollowUp(
                title=rule.follow_up_title,
                description=rule.follow_up_description,
                visit=visit,
                organisation_id=visit.organisation_id,
                rule=rule,
                assignee=assignee,
                assigned_at=now if assignee else None,
                due_date=today + datetime.timedelta(days=rule.due_in_days),
                created_by=by,
            )
        )
    if created:
        bulk_create_with_history(
            created, FollowUp, default_user=by, default_change_reason=_("Raised by a guide rule")
        )
        assigned = [f.pk for f in created if f.assignee_id]
        if assigned:
            transaction.on_commit(partial(notify_assignment, assigned))
    return created


@dataclass
class NewContact:
    """A person met on a visit who is not in the CRM yet, with the GDPR basis on which
    their contact details are stored."""

    person: Person
    lawful_basis: str
    function: str = ""


@transaction.atomic
def capture_visit(
    *,
    uuid: uuid_lib.UUID | str,
    expected_version: int | None,
    by: User,
    organisation: Organisation | None = None,
    new_organisation: Organisation | None = None,
    new_contact: NewContact | None = None,
    scouts: Iterable[User] | None = None,
    people_met: Iterable[Person] = (),
    topics: Iterable[Topic] = (),
    follow_up: dict[str, str] | None = None,
    submit: bool = False,
    **fields: Any,
) -> Visit:
    """Everything the visit form records, in one transaction: a new organisation and a
    new contact (with their consent basis) if given, the visit itself (created under the
    client's UUID or updated at ``expected_version``), a proposed follow-up, and the
    submission.

    A visit that exists already must be updated at the version the client read
    (None: the client thinks it is new). Otherwise ``StaleVisit`` is raised before
    anything is written, so a form sent twice creates no second organisation,
    contact or follow-up, and a second tab cannot silently overwrite the first.
    """
    existing = Visit.objects.select_for_update().filter(uuid=uuid).first()
    if existing is not None:
        _check_editable(existing, by=by)
        if expected_version != existing.version:
            raise StaleVisit(expected=expected_version or 0, current=existing.version)
    if new_organisation is not None:
        new_organisation.full_clean()
        organisation = create_organisation(new_organisation, by=by)
    if organisation is None:
        raise ValidationError({"organisation": _("Choose the organisation you visited.")})
    people = list(people_met)
    if new_contact is not None:
        person = create_person(
            new_contact.person, by=by, organisation=organisation, function=new_contact.function
        )
        record_consent(
            ConsentRecord(
                person=person,
                purpose=ConsentRecord.Purpose.EMAIL_CONTACT,
                lawful_basis=new_contact.lawful_basis,
                source=_("Company visit on %(date)s")
                % {
                    "date": timezone.localtime(fields.get("visited_at") or timezone.now()).strftime(
                        "%d.%m.%Y"
                    )
                },
            ),
            by=by,
        )
        people.append(person)
    if existing is None:
        visit, _created = record_visit(
            uuid=uuid,
            organisation=organisation,
            by=by,
            scouts=scouts,
            people_met=people,
            topics=topics,
            **fields,
        )
    else:
        changes: dict[str, Any] = {"organisation": organisation, **fields}
        changes.update(people_met=people, topics=list(topics))
        if scouts is not None:
            changes["scouts"] = list(scouts)
        visit = update_visit(existing, expected_version=existing.version, by=by, **changes)
    if follow_up and follow_up.get("title"):
        propose_follow_up(
            by=by,
            title=follow_up["title"],
            description=follow_up.get("description", ""),
            visit=visit,
        )
    if submit and visit.is_draft():
        visit = submit_visit(visit, by=by)
    return visit


# --- Interview guide -----------------------------------------------------------------


@transaction.atomic
def copy_guide_as_new_version(guide: InterviewGuide, *, by: User) -> InterviewGuide:
    """A new, inactive version of ``guide`` with its sections, questions and rules, to
    be changed and then activated; the old version stays as visits answered it."""
    newest = (
        InterviewGuide.objects.select_for_update()
        .filter(name=guide.name)
        .order_by("-version")
        .first()
    )
    copy = InterviewGuide(name=guide.name, version=newest.version + 1, is_active=False)  # type: ignore[union-attr]
    save_with_history(
        copy, by=by, reason=_("Copied from version %(version)d") % {"version": guide.version}
    )
    for section in guide.sections.prefetch_related("questions__rules").order_by("position", "pk"):
        new_section = GuideSection(guide=copy, title=section.title, position=section.position)
        save_with_history(new_section, by=by)
        for question in section.questions.all():
            new_question = GuideQuestion(
                section=new_section,
                key=question.key,
                text=question.text,
                kind=question.kind,
                choices=question.choices,
                position=question.position,
            )
            save_with_history(new_question, by=by)
            for rule in question.rules.all():
                save_with_history(
                    FollowUpRule(
                        question=new_question,
                        when_value=rule.when_value,
                        follow_up_title=rule.follow_up_title,
                        follow_up_description=rule.follow_up_description,
                        assignee_role=rule.assignee_role,
                        assignee_id=rule.assignee_id,
                        due_in_days=rule.due_in_days,
                    ),
                    by=by,
                )
    return copy


def guide_is_in_use(guide_id: int | None) -> bool:
    return bool(guide_id) and Visit.objects.filter(guide_version_id=guide_id).exists()


# --- Follow-ups ----------------------------------------------------------------------


@transaction.atomic
def propose_follow_up(
    *,
    by: User,
    title: str,
    description: str = "",
    visit: Visit | None = None,
    organisation: Organisation | None = None,
    person: Person | None = None,
    transfer_request: Any = None,
    due_date: datetime.date | None = None,
    priority: str = FollowUp.Priority.NORMAL,
) -> FollowUp:
    """A new, unassigned follow-up; network managers assign it. ``transfer_request``
    (pipeline) makes it about a request and its organisation."""
    if not by.has_perm("scouting.add_followup"):
        raise FollowUpAccessError(_("You may not propose follow-ups."))
    if visit is not None and not Visit.objects.for_user(by).filter(pk=visit.pk).exists():
        raise VisitAccessError(_("This visit belongs to someone else."))
    if visit is not None and organisation is None:
        organisation = visit.organisation
    if transfer_request is not None and organisation is None:
        organisation = transfer_request.organisation
    follow_up = FollowUp(
        title=title.strip(),
        description=description.strip(),
        visit=visit,
        organisation=organisation,
        person=person,
        transfer_request=transfer_request,
        due_date=due_date,
        priority=priority,
        created_by=by,
    )
    save_with_history(follow_up, by=by)
    return follow_up


@transaction.atomic
def assign_follow_ups(
    follow_ups: Iterable[FollowUp],
    *,
    assignee: User,
    due_date: datetime.date | None = None,
    priority: str | None = None,
    by: User,
) -> int:
    """Assign (or reassign) open follow-ups, optionally setting due date and priority.

    Returns how many changed; new assignees are emailed once the transaction commits.
    """
    if not by.has_perm("scouting.change_followup"):
        raise FollowUpAccessError(_("Only network managers may assign follow-ups."))
    if not assignee.is_active:
        raise ValidationError({"assignee": _("This user account is deactivated.")})
    if priority is not None and priority not in FollowUp.Priority.values:
        raise ValidationError({"priority": _("Unknown priority.")})
    if due_date is not None and due_date < timezone.localdate() - datetime.timedelta(days=365):
        raise ValidationError({"due_date": _("This due date lies more than a year in the past.")})
    ids = [f.pk for f in follow_ups]
    locked = list(FollowUp.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if any(not f.is_open() for f in locked):
        raise ValidationError(_("Completed or cancelled follow-ups cannot be assigned."))
    now = timezone.now()
    changed, newly_assigned = [], []
    for follow_up in locked:
        before = (follow_up.assignee_id, follow_up.due_date, follow_up.priority)
        if follow_up.assignee_id != assignee.pk:
            follow_up.assignee = assignee
            follow_up.assigned_by = by
            follow_up.assigned_at = now
            newly_assigned.append(follow_up.pk)
        if due_date is not None:
            follow_up.due_date = due_date
        if priority is not None:
            follow_up.priority = priority
        if (follow_up.assignee_id, follow_up.due_date, follow_up.priority) != before:
            changed.append(follow_up)
    if changed:
        bulk_update_with_history(
            changed,
            FollowUp,
            ["assignee", "assigned_by", "assigned_at", "due_date", "priority"],
            default_user=by,
            default_change_reason=_("Assigned"),
        )
    if newly_assigned:
        transaction.on_commit(partial(notify_assignment, newly_assigned))
    return len(changed)


@transaction.atomic
def complete_follow_up(follow_up: FollowUp, *, note: str, by: User) -> FollowUp:
    locked = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    may = locked.assignee_id == by.pk or by.has_perm("scouting.change_followup")
    if not may:
        raise FollowUpAccessError(_("Only the assignee or a network manager may complete this."))
    if not locked.is_open():
        raise ValidationError(_("This follow-up is already closed."))
    locked.status = FollowUp.Status.DONE
    locked.completion_note = note.strip()
    locked.completed_at = timezone.now()
    save_with_history(locked, by=by, reason=_("Completed"))
    return locked


@transaction.atomic
def change_follow_up(follow_up: FollowUp, *, by: User, **changes: Any) -> FollowUp:
    """Network managers correct the title, description, due date or priority."""
    if not by.has_perm("scouting.change_followup"):
        raise FollowUpAccessError(_("Only network managers may change follow-ups."))
    allowed = {"title", "description", "due_date", "priority"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"change_follow_up() got unexpected fields: {sorted(unknown)}")
    locked = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if not locked.is_open():
        raise ValidationError(_("This follow-up is already closed."))
    for field, value in changes.items():
        setattr(locked, field, value)
    save_with_history(locked, by=by)
    return locked


@transaction.atomic
def start_follow_up(follow_up: FollowUp, *, by: User) -> FollowUp:
    """The assignee (or a network manager) marks a follow-up as in progress."""
    locked = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if locked.assignee_id != by.pk and not by.has_perm("scouting.change_followup"):
        raise FollowUpAccessError(_("Only the assignee or a network manager may do this."))
    if locked.status != FollowUp.Status.OPEN:
        raise ValidationError(_("Only open follow-ups can be started."))
    locked.status = FollowUp.Status.IN_PROGRESS
    save_with_history(locked, by=by, reason=_("Started"))
    return locked


@transaction.atomic
def cancel_follow_up(follow_up: FollowUp, *, note: str, by: User) -> FollowUp:
    if not by.has_perm("scouting.change_followup"):
        raise FollowUpAccessError(_("Only network managers may cancel follow-ups."))
    locked = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if not locked.is_open():
        raise ValidationError(_("This follow-up is already closed."))
    locked.status = FollowUp.Status.CANCELLED
    locked.completion_note = note.strip()
    save_with_history(locked, by=by, reason=_("Cancelled"))
    return locked
