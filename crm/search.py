"""Finding organisations and people by name, email or city.

PostgreSQL: substring and German full-text search on a stored, lower-cased
``search_text``, with trigram word similarity for typos when those find nothing
(all GIN-indexed, see migration 0002). SQLite: a
case-insensitive substring match that also folds German umlauts.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchVector, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Lower

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


def _has_rows_by_index(qs: QuerySet) -> bool:  # type: ignore[type-arg]
    """``exists()`` that cannot degrade into a sequential scan.

    With LIMIT 1 the planner hopes to meet a match early in a sequential scan; for a
    term that matches nothing that means computing to_tsvector on every row (seconds
    at state scale). The GIN bitmap scans answer in milliseconds either way.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        try:
            return qs.exists()
        finally:
            cursor.execute("SET LOCAL enable_seqscan = on")


def search(qs: QuerySet, query: str, *, order: bool = True) -> QuerySet:  # type: ignore[type-arg]
    """Filter ``qs`` (a model with ``search_text``) to records matching ``query``."""
    query = clean_query(query)
    if not query:
        return qs
    name_field = getattr(qs.model, "SEARCH_NAME_FIELD", "pk")
    if is_postgres():
        text = query.lower()
        vector = SearchVector("search_text", config="german")
        ts_query = SearchQuery(query, config="german", search_type="websearch")
        matched = qs.alias(search_fts=vector).filter(
            Q(search_text__contains=text) | Q(search_fts=ts_query)
        )
        if _has_rows_by_index(matched):
            # Names starting with the query first, then alphabetical: cheap to sort even
            # when a broad term ("GmbH") matches tens of thousands of records.
            if order:
                matched = matched.annotate(
                    search_rank=ExpressionWrapper(
                        Q(**{f"{name_field}__istartswith": query}), output_field=BooleanField()
                    )
                ).order_by(F("search_rank").desc(), name_field, "pk")
            return matched
        # Typos ("Maschinenbao"): trigram word similarity, costly but only on this fallback.
        fuzzy = qs.filter(search_text__trigram_word_similar=text)
        if order:
            fuzzy = fuzzy.annotate(
                search_rank=TrigramWordSimilarity(text, Lower(name_field))
            ).order_by(F("search_rank").desc(), "pk")
        return fuzzy
    terms = query.lower().split()
    condition = Q()
    for term in terms:
        folded = fold_umlauts(term)
        condition &= Q(search_text__contains=term) | Q(search_text__contains=folded)
    return qs.filter(condition)
