"""Finding organisations and people by name, email or city.

PostgreSQL: substring and German full-text search on a stored, lower-cased
``search_text``, with trigram word similarity for typos when those find nothing
(all GIN-indexed, see migration 0002). SQLite: a
case-insensitive substring match that also folds German umlauts.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Lower

from .pagination import COUNT_CAP

MAX_QUERY_LENGTH = 200


def clean_query(raw: str | None) -> str:
    """Trim, cap and drop NUL bytes, which PostgreSQL rejects in text."""
    if not raw:
        return ""
    return " ".join(raw.replace("\x00", "").split())[:MAX_QUERY_LENGTH]


MIN_SEARCH_CHARACTERS = 3


def is_searchable(query: str) -> bool:
    """At least three letters or digits: shorter terms ("a", "&", an emoji) match most
    of a state-sized table through no index and would tie up the database."""
    return sum(ch.isalnum() for ch in query) >= MIN_SEARCH_CHARACTERS


def fold_umlauts(text: str) -> str:
    return text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _pool_ids(matched: QuerySet, size: int) -> list[Any]:  # type: ignore[type-arg]
    """Ids of up to ``size`` matches, found through the GIN indexes.

    With a LIMIT the planner hopes to meet matches early in a sequential scan; for a
    term that matches little that means computing to_tsvector on every row (seconds
    at state scale). Bitmap scans over the GIN indexes answer in milliseconds.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        try:
            return list(matched.order_by().values_list("pk", flat=True)[:size])
        finally:
            cursor.execute("SET LOCAL enable_seqscan = on")


def search(
    qs: QuerySet,  # type: ignore[type-arg]
    query: str,
    *,
    order: bool = True,
    pool: int = COUNT_CAP + 1,
) -> QuerySet:  # type: ignore[type-arg]
    """Filter ``qs`` (a model with ``search_text``) to records matching ``query``.

    With ``order`` the matches come by relevance, ranked within the first ``pool``
    matches (lists: as many as they count; quick finders showing 20 need fewer).
    A term too short to search by (see ``is_searchable``) matches nothing.
    """
    query = clean_query(query)
    if not query:
        return qs
    if not is_searchable(query):
        return qs.none()
    name_field = getattr(qs.model, "SEARCH_NAME_FIELD", "pk")
    if is_postgres():
        text = query.lower()
        vector = SearchVector("search_text", config="german")
        ts_query = SearchQuery(query, config="german", search_type="websearch")
        matched = qs.alias(search_fts=vector).filter(
            Q(search_text__contains=text) | Q(search_fts=ts_query)
        )
        ids = _pool_ids(matched, pool)
        if ids:
            # Names starting with the query first, then alphabetical; ranking is done on
            # the pool only, as large as the lists count, so a broad term ("GmbH") with
            # 200,000 matches costs no more than a narrow one.
            rank: Any = ExpressionWrapper(
                Q(**{f"{name_field}__istartswith": query}), output_field=BooleanField()
            )
            then_by = name_field
        else:
            # Typos ("Maschinenbao"): trigram word similarity, only on this fallback.
            ids = _pool_ids(qs.filter(search_text__trigram_word_similar=text), pool)
            rank, then_by = TrigramWordSimilarity(text, Lower(name_field)), "pk"
        pooled = qs.filter(pk__in=ids)
        if not order:
            return pooled
        return pooled.annotate(search_rank=rank).order_by(F("search_rank").desc(), then_by, "pk")
    terms = query.lower().split()
    condition = Q()
    for term in terms:
        folded = fold_umlauts(term)
        condition &= Q(search_text__contains=term) | Q(search_text__contains=folded)
    return qs.filter(condition)
