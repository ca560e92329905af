"""Finding organisations and people by name, email or city.

PostgreSQL: German full-text search plus trigram word similarity on a stored,
lower-cased ``search_text`` (both GIN-indexed, see migration 0002). SQLite: a
case-insensitive substring match that also folds German umlauts.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchVector, TrigramWordSimilarity
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest

MAX_QUERY_LENGTH = 200


def clean_query(raw: str | None) -> str:
    """Trim, cap and drop NUL bytes, which PostgreSQL rejects in text."""
    if not raw:
        return ""
    return " ".join(raw.replace("\x00", "").split())[:MAX_QUERY_LENGTH]


def fold_umlauts(text: str) -> str:
    return text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def search(qs: QuerySet, query: str, *, order: bool = True) -> QuerySet:  # type: ignore[type-arg]
    """Filter ``qs`` (a model with ``search_text``) to records matching ``query``."""
    query = clean_query(query)
    if not query:
        return qs
    if is_postgres():
        text = query.lower()
        vector = SearchVector("search_text", config="german")
        ts_query = SearchQuery(query, config="german", search_type="websearch")
        matched = qs.alias(search_fts=vector).filter(
            Q(search_text__contains=text)
            | Q(search_text__trigram_word_similar=text)
            | Q(search_fts=ts_query)
        )
        if order:
            matched = matched.annotate(
                search_rank=Greatest(TrigramWordSimilarity(text, "search_text"), 0.0)
            ).order_by(F("search_rank").desc(), "pk")
        return matched
    terms = query.lower().split()
    condition = Q()
    for term in terms:
        folded = fold_umlauts(term)
        condition &= Q(search_text__contains=term) | Q(search_text__contains=folded)
    return qs.filter(condition)
