"""The default interview guide the agency starts with (German, as scouts read it).

Kept as plain data so that the data migration that installs it does not depend on
the current models; administration changes the guide as new versions later.
"""

from __future__ import annotations

from typing import Any

DEFAULT_GUIDE_NAME = "Standard-Gesprächsleitfaden"
DEFAULT_GUIDE_VERSION = 1

YES_NO = "yes_no"
CHOICE = "choice"
NUMBER = "number"
TEXT = "text"

# (section title, [(key, question, kind, choices)])
DEFAULT_SECTIONS: list[tuple[str, list[tuple[str, str, str, list[str]]]]] = [
    (
        "Innovation",
        [
            (
                "innovation_projects",
                "Plant das Unternehmen in den nächsten zwei Jahren Innovationsprojekte?",
                YES_NO,
                [],
            ),
            (
                "innovation_focus",
                "Worauf zielen die Innovationsvorhaben vor allem?",
                CHOICE,
                ["Neue Produkte", "Neue Verfahren", "Neue Geschäftsmodelle", "Noch offen"],
            ),
            (
                "rd_staff",
                "Wie viele Beschäftigte arbeiten in Forschung und Entwicklung?",
                NUMBER,
                [],
            ),
            ("innovation_obstacles", "Was bremst Innovation im Unternehmen?", TEXT, []),
        ],
    ),
    (
        "Wissens- und Technologietransfer",
        [
            (
                "research_cooperation",
                "Arbeitet das Unternehmen bereits mit Hochschulen oder Forschungseinrichtungen?",
                YES_NO,
                [],
            ),
            (
                "transfer_interest",
                "Besteht Interesse an einem Kontakt zu Hochschulen oder Forschungseinrichtungen?",
                YES_NO,
                [],
            ),
            (
                "transfer_format",
                "Welches Kooperationsformat kommt infrage?",
                CHOICE,
                [
                    "Abschlussarbeit",
                    "Praktikum",
                    "Auftragsforschung",
                    "Verbundprojekt",
                    "Noch offen",
                ],
            ),
            ("transfer_question", "Welche konkrete Fragestellung hat das Unternehmen?", TEXT, []),
        ],
    ),
    (
        "Fachkräfte",
        [
            (
                "skilled_worker_shortage",
                "Hat das Unternehmen einen Fachkräftemangel?",
                YES_NO,
                [],
            ),
            ("open_positions", "Wie viele Stellen sind derzeit unbesetzt?", NUMBER, []),
            (
                "training_offered",
                "Bildet das Unternehmen selbst aus?",
                YES_NO,
                [],
            ),
            ("hard_to_fill_roles", "Welche Berufe sind besonders schwer zu besetzen?", TEXT, []),
        ],
    ),
    (
        "Neue Arbeitsformen",
        [
            (
                "remote_work",
                "Bietet das Unternehmen mobiles Arbeiten an?",
                YES_NO,
                [],
            ),
            (
                "coworking_interest",
                "Besteht Interesse an Co-Working-Flächen in der Region?",
                YES_NO,
                [],
            ),
            (
                "work_models_notes",
                "Welche neuen Arbeitsformen werden erprobt oder geplant?",
                TEXT,
                [],
            ),
        ],
    ),
    (
        "Grüne Transformation",
        [
            (
                "climate_strategy",
                "Hat das Unternehmen eine Klima- oder Nachhaltigkeitsstrategie?",
                YES_NO,
                [],
            ),
            (
                "energy_measures",
                "Welche Maßnahmen zur Energieeinsparung sind geplant?",
                CHOICE,
                [
                    "Eigene Erzeugung erneuerbarer Energie",
                    "Effizientere Anlagen",
                    "Gebäudesanierung",
                    "Keine geplant",
                ],
            ),
            (
                "green_skills_need",
                "Braucht das Unternehmen Qualifizierung für grüne Kompetenzen?",
                YES_NO,
                [],
            ),
            ("green_notes", "Weitere Anmerkungen zur grünen Transformation", TEXT, []),
        ],
    ),
]

# (question key, answer, follow-up title, description, responsible role, days until due)
DEFAULT_RULES: list[tuple[str, Any, str, str, str, int]] = [
    (
        "skilled_worker_shortage",
        True,
        "Fachkräftebedarf klären",
        "Im Unternehmensbesuch wurde ein Fachkräftemangel genannt. Bitte Bedarf und "
        "passende Unterstützungsangebote mit dem Unternehmen klären.",
        "network_manager",
        14,
    ),
]


def install_default_guide(apps: Any) -> None:
    """Create the default guide (idempotent); ``apps`` is the migration's app registry."""
    guide_model = apps.get_model("scouting", "InterviewGuide")
    section_model = apps.get_model("scouting", "GuideSection")
    question_model = apps.get_model("scouting", "GuideQuestion")
    rule_model = apps.get_model("scouting", "FollowUpRule")
    guide, created = guide_model.objects.get_or_create(
        name=DEFAULT_GUIDE_NAME,
        version=DEFAULT_GUIDE_VERSION,
        defaults={"is_active": True},
    )
    if not created:
        return
    questions = {}
    for section_position, (title, items) in enumerate(DEFAULT_SECTIONS, start=1):
        section = section_model.objects.create(guide=guide, title=title, position=section_position)
        for position, (key, text, kind, choices) in enumerate(items, start=1):
            questions[key] = question_model.objects.create(
                section=section, key=key, text=text, kind=kind, choices=choices, position=position
            )
    for key, value, title, description, role, days in DEFAULT_RULES:
        rule_model.objects.create(
            question=questions[key],
            when_value=value,
            follow_up_title=title,
            follow_up_description=description,
            assignee_role=role,
            due_in_days=days,
        )


def remove_default_guide(apps: Any) -> None:
    guide_model = apps.get_model("scouting", "InterviewGuide")
    guide_model.objects.filter(name=DEFAULT_GUIDE_NAME, version=DEFAULT_GUIDE_VERSION).delete()
