"""The German catalogue is complete and compiled: a new UI string without a
translation, a fuzzy entry, or a .mo older than its .po fails here."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.utils import translation

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "de" / "LC_MESSAGES"


def _entries(text: str) -> list[str]:
    return [e for e in text.split("\n\n") if re.search(r"^msgid ", e, re.M)]


def _msgstr_empty(entry: str) -> bool:
    strings = re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', entry + "\n", re.M)
    return any("".join(re.findall(r'"(.*)"', s)) == "" for s in strings)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _msgid(entry: str) -> str:
    m = re.search(r'^msgid ((?:".*"\n?)+)', entry + "\n", re.M)
    raw = "".join(re.findall(r'"(.*)"', m.group(1))) if m else ""
    return re.sub(r"\\(.)", lambda c: _ESCAPES.get(c.group(1), c.group(1)), raw)


def test_every_german_entry_is_translated_and_not_fuzzy():
    entries = [e for e in _entries((LOCALE / "django.po").read_text()) if _msgid(e)]
    untranslated = [_msgid(e) for e in entries if _msgstr_empty(e)]
    fuzzy = [_msgid(e) for e in entries if re.search(r"^#,.*\bfuzzy\b", e, re.M)]
    assert untranslated == [], f"untranslated: {untranslated[:10]}"
    assert fuzzy == [], f"fuzzy: {fuzzy[:10]}"


def test_compiled_catalogue_matches_the_po_file():
    entries = [e for e in _entries((LOCALE / "django.po").read_text()) if _msgid(e)]
    with open(LOCALE / "django.mo", "rb") as handle:
        catalogue = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    # Keys are msgids, (msgid, n) for plurals, and "context\x04msgid" with a context.
    keys = {k if isinstance(k, str) else k[0] for k in catalogue if k}
    compiled = keys | {k.split("\x04", 1)[1] for k in keys if "\x04" in k}
    missing = [_msgid(e) for e in entries if _msgid(e) not in compiled]
    assert missing == [], f"run compilemessages; not in django.mo: {missing[:5]}"


def test_ui_speaks_formal_german():
    with translation.override("de"):
        assert translation.gettext("Possible duplicates") == "Mögliche Duplikate"
    text = (LOCALE / "django.po").read_text()
    msgstrs = " ".join(re.findall(r'^msgstr(?:\[\d\])? "(.*)"', text, re.M))
    assert not re.search(r"\b(du|dein|deine|dich|dir)\b", msgstrs), "use formal Sie"


def test_upstream_messages_are_formal_too():
    from crm.translation_overrides import INFORMAL_UPSTREAM_MESSAGES

    with translation.override("de"):
        for message in INFORMAL_UPSTREAM_MESSAGES:
            german = translation.gettext(message)
            assert german != message, message
            assert not re.search(r"\b(Gib|Nutze|Stelle sicher|du|dein)\b", german), german
