"""The impact report as an A4 PDF: cover, contents, summary, charts, breakdowns,
narrative and the indicators' definitions.

Rendered from a `ReportContent` only (never the ORM), in the active language (the
service activates German). The output is byte-for-byte the same for the same content
(ReportLab's ``invariant`` mode), because publishing stores the file's hash."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from html import escape
from io import BytesIO
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfdoc import PDFPageLabel
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from .content import BreakdownRow, IndicatorContent, PeriodContent, ReportContent, TrendPoint
from .fonts import register_fonts

logger = logging.getLogger(__name__)

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 2 * cm
MARGIN_TOP = 2.4 * cm
MARGIN_BOTTOM = 2.4 * cm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

INK = colors.HexColor("#212529")
MUTED = colors.HexColor("#6c757d")
RULE = colors.HexColor("#adb5bd")
SHADE = colors.HexColor("#e9ecef")
ACCENT = colors.HexColor("#1f5f8b")
ACCENT_LIGHT = colors.HexColor("#8fb8d6")
WATERMARK = colors.HexColor("#dee2e6")

# Charted: the trend of every indicator in one of these units, and the breakdowns
# below for RCO01 and every visit count.
TREND_UNITS = ("enterprises", "visits", "requests")
CHARTED_BREAKDOWNS = ("district", "size_class")
DASH = "–"


# --- Formatting ------------------------------------------------------------------------


def number(value: int | float | None) -> str:
    """1.234 or 12,5 in German; "–" for no value. Floats keep one decimal."""
    if value is None:
        return DASH
    decimals = 1 if isinstance(value, float) else 0
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


def signed(value: int | float) -> str:
    return ("+" if value > 0 else "") + number(value)


def change_numbers(
    value: int | float, previous: int | float | None
) -> tuple[int | float | None, float | None]:
    """The absolute and relative (in %, one decimal) change against the previous
    period; None where there is nothing to compare with (no previous value, or 0)."""
    if previous is None:
        return None, None
    difference = value - previous
    if isinstance(difference, float):
        difference = round(difference, 1)
    if previous == 0:
        return difference, None
    return difference, round(difference / previous * 100, 1)


def change(value: int | float, previous: int | float | None) -> tuple[str, str]:
    """`change_numbers` as text: "+54", "+4,6 %"; "–" where there is none."""
    absolute, relative = change_numbers(value, previous)
    return (
        DASH if absolute is None else signed(absolute),
        DASH if relative is None else f"{signed(relative)} %",
    )


def quantity(value: int | float | None, indicator: IndicatorContent) -> str:
    """A value with its unit: "1.234 Unternehmen", "42,2 %"; "–" for no value."""
    if value is None:
        return DASH
    return f"{number(value)} {indicator['unit_label']}".strip()


def date_text(iso: str) -> str:
    return formats.date_format(datetime.date.fromisoformat(iso), "SHORT_DATE_FORMAT")


def datetime_text(iso: str) -> tuple[str, str]:
    """The date and the time (hours and minutes) of an ISO datetime."""
    moment = datetime.datetime.fromisoformat(iso)
    return (
        formats.date_format(moment.date(), "SHORT_DATE_FORMAT"),
        formats.time_format(moment.time(), "TIME_FORMAT"),
    )


def period_text(period: PeriodContent) -> str:
    return f"{period['label']} ({date_text(period['start'])}{DASH}{date_text(period['end'])})"


def markup(text: str) -> str:
    """Plain text as Paragraph markup: ``<`` and ``&`` escaped, line breaks kept."""
    return escape(text, quote=False).replace("\n", "<br/>")


# --- Styles ----------------------------------------------------------------------------


class _Styles:
    def __init__(self, regular: str, bold: str) -> None:
        self.regular, self.bold = regular, bold

        def style(name: str, **options: Any) -> ParagraphStyle:
            defaults: dict[str, Any] = {
                "fontName": regular,
                "fontSize": 9.5,
                "leading": 13,
                "textColor": INK,
            }
            return ParagraphStyle(name, **(defaults | options))

        self.body = style("body", spaceAfter=6)
        self.small = style("small", fontSize=8, leading=10.5, textColor=MUTED)
        self.cell = style("cell", fontSize=8, leading=10)
        self.cell_bold = style("cell_bold", fontName=bold, fontSize=8, leading=10)
        self.cell_bold_right = style(
            "cell_bold_right", fontName=bold, fontSize=8, leading=10, alignment=TA_RIGHT
        )
        self.code = style("code", fontSize=7.5, leading=10)
        self.h1 = style("h1", fontName=bold, fontSize=16, leading=20, spaceAfter=10)
        self.h2 = style("h2", fontName=bold, fontSize=12, leading=15, spaceBefore=10, spaceAfter=5)
        self.h3 = style("h3", fontName=bold, fontSize=10, leading=13, spaceAfter=3)
        self.chart_title = style("chart_title", fontName=bold, fontSize=8.5, leading=11)
        self.cover_region = style("cover_region", fontName=bold, fontSize=13, leading=17)
        self.cover_programme = style("cover_programme", fontSize=11, leading=15, textColor=MUTED)
        self.cover_title = style("cover_title", fontName=bold, fontSize=26, leading=32)
        self.cover_period = style("cover_period", fontSize=15, leading=20, textColor=ACCENT)
        self.cover_draft = style(
            "cover_draft",
            fontName=bold,
            fontSize=11,
            leading=15,
            textColor=colors.HexColor("#842029"),
            backColor=colors.HexColor("#f8d7da"),
            borderPadding=6,
        )
        self.toc_levels = [
            style("toc0", fontName=bold, fontSize=10.5, leading=15, leftIndent=0),
            style("toc1", fontSize=9.5, leading=13, leftIndent=14),
        ]


def _table_style(*, header: bool = True, numbers_from: int | None = None) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands += [
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
        ]
    if numbers_from is not None:
        commands.append(("ALIGN", (numbers_from, 0), (-1, -1), "RIGHT"))
    return TableStyle(commands)


# --- Document --------------------------------------------------------------------------


class _Heading(Paragraph):
    """A heading that gets an entry in the table of contents and the PDF outline."""

    def __init__(self, text: str, style: ParagraphStyle, *, level: int, key: str) -> None:
        super().__init__(markup(text), style)
        self.toc_level = level
        self.toc_key = key
        self.toc_text = text


class _ReportDocument(BaseDocTemplate):
    def __init__(self, buffer: BytesIO, content: ReportContent, styles: _Styles) -> None:
        super().__init__(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN_X,
            rightMargin=MARGIN_X,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            title=content["title"],
            author=content["region_name"],
            subject=f"{content['programme_name']} · {content['period']['label']}",
            creator="regio-crm",
            invariant=1,
            lang="de-DE",
            initialFontName=styles.regular,
        )
        self.content = content
        self.styles = styles
        frame = Frame(
            self.leftMargin,
            self.bottomMargin,
            self.width,
            self.height,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates(
            [
                PageTemplate("cover", [frame], onPage=self._draw_cover_page),
                PageTemplate("body", [frame], onPage=self._draw_running_header),
            ]
        )

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            self.canv.bookmarkPage(flowable.toc_key)
            self.canv.addOutlineEntry(
                flowable.toc_text, flowable.toc_key, level=flowable.toc_level, closed=True
            )
            self.notify(
                "TOCEntry",
                (
                    flowable.toc_level,
                    markup(flowable.toc_text),
                    self.page - 1,  # the cover is not counted
                    flowable.toc_key,
                ),
            )

    def _draw_cover_page(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        if self.content["status"] == "published":
            return
        canvas.saveState()
        canvas.setFont(self.styles.bold, 96)
        canvas.setFillColor(WATERMARK)
        canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2 - 3 * cm)
        canvas.rotate(35)
        canvas.drawCentredString(0, 0, _("draft").capitalize())
        canvas.restoreState()

    def _draw_running_header(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(self.styles.regular, 8)
        canvas.setFillColor(MUTED)
        y = PAGE_HEIGHT - MARGIN_TOP + 0.9 * cm
        canvas.drawString(MARGIN_X, y, self.content["title"])
        canvas.drawRightString(PAGE_WIDTH - MARGIN_X, y, self.content["period"]["label"])
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, y - 4, PAGE_WIDTH - MARGIN_X, y - 4)
        canvas.restoreState()


def _footer_lines(content: ReportContent) -> list[str]:
    if content["status"] == "published":
        return [
            _("Figures SHA-256: %(hash)s") % {"hash": content["figures_sha256"]},
            _("XLSX SHA-256: %(hash)s") % {"hash": content["xlsx_sha256"]},
        ]
    return [_("Draft – not published")]


def _numbered_canvas(footer_lines: Sequence[str], regular: str) -> Callable[..., Canvas]:
    """A canvas class that draws "Page X of Y" and ``footer_lines`` on every page but
    the cover, once the number of pages is known (pages are kept until ``save``).

    The cover is not counted, so the contents page is page 1; PDF page labels tell
    viewers the same. Bookmarks (targets of the contents' links and the outline) refer
    to the page being written, so they are set when their page is really written."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._page_states: list[dict[str, Any]] = []
            self._bookmarks: dict[int, list[tuple[str, dict[str, Any]]]] = {}

        def showPage(self) -> None:
            self._page_states.append(dict(self.__dict__))
            self._startPage()

        def bookmarkPage(self, key: str, **kwargs: Any) -> None:
            self._bookmarks.setdefault(self._pageNumber, []).append((key, kwargs))

        def save(self) -> None:
            count = len(self._page_states) - 1
            for state in self._page_states:
                self.__dict__.update(state)
                for key, kwargs in self._bookmarks.get(self._pageNumber, []):
                    super().bookmarkPage(key, **kwargs)
                if self._pageNumber > 1:
                    self._draw_footer(self._pageNumber - 1, count)
                super().showPage()
            self.addPageLabel(0, prefix=_("Cover"))
            self.addPageLabel(1, style=PDFPageLabel.ARABIC, start=1)
            super().save()

        def _draw_footer(self, number: int, count: int) -> None:
            self.saveState()
            top = MARGIN_BOTTOM - 0.8 * cm
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN_X, top, PAGE_WIDTH - MARGIN_X, top)
            self.setFillColor(MUTED)
            self.setFont(regular, 8)
            page = _("Page %(number)s of %(count)s") % {"number": number, "count": count}
            self.drawRightString(PAGE_WIDTH - MARGIN_X, top - 10, page)
            self.setFont(regular, 6.5)
            for index, line in enumerate(footer_lines):
                self.drawString(MARGIN_X, top - 10 - index * 8.5, line)
            self.restoreState()

    return NumberedCanvas


# --- Parts -----------------------------------------------------------------------------


class _Builder:
    def __init__(self, content: ReportContent, styles: _Styles) -> None:
        self.content = content
        self.s = styles
        self._keys = 0

    def heading(self, text: str, *, level: int) -> _Heading:
        self._keys += 1
        style = self.s.h1 if level == 0 else self.s.h2
        return _Heading(text, style, level=level, key=f"section-{self._keys}")

    def story(self) -> list[Flowable]:
        return [
            *self.cover(),
            NextPageTemplate("body"),
            PageBreak(),
            *self.contents(),
            PageBreak(),
            *self.summary(),
            PageBreak(),
            *self.charts(),
            PageBreak(),
            *self.breakdowns(),
            PageBreak(),
            *self.narrative(),
            PageBreak(),
            *self.annex(),
        ]

    # Cover

    def cover(self) -> list[Flowable]:
        c, s = self.content, self.s
        top = Table(
            [[Paragraph(markup(c["region_name"]), s.cover_region), self.logo()]],
            colWidths=[FRAME_WIDTH - 6 * cm, 6 * cm],
            style=TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ]
            ),
        )
        generated_date, generated_time = datetime_text(c["generated_at"])
        facts = [
            (
                _("Period"),
                f"{date_text(c['period']['start'])}{DASH}{date_text(c['period']['end'])}",
            ),
            (_("Area"), c["scope_label"]),
            (_("Version"), str(c["version"])),
            (_("Status"), _("published") if c["status"] == "published" else _("draft")),
            (
                _("Generated"),
                _("%(date)s at %(time)s") % {"date": generated_date, "time": generated_time},
            ),
        ]
        if c["status"] == "published" and c["published_at"]:
            published_date, _time = datetime_text(c["published_at"])
            by = c["published_by"]
            facts.append(
                (
                    _("Published"),
                    _("%(date)s by %(name)s") % {"date": published_date, "name": by}
                    if by
                    else published_date,
                )
            )
        facts_table = Table(
            [[Paragraph(markup(k), s.cell_bold), Paragraph(markup(v), s.cell)] for k, v in facts],
            colWidths=[4 * cm, FRAME_WIDTH - 4 * cm],
            hAlign="LEFT",
            style=_table_style(header=False),
        )
        flowables: list[Flowable] = [
            top,
            Spacer(1, 0.3 * cm),
            Paragraph(markup(c["programme_name"]), s.cover_programme),
            Spacer(1, 5 * cm),
            Paragraph(markup(c["title"]), s.cover_title),
            Spacer(1, 0.3 * cm),
            Paragraph(markup(c["period"]["label"]), s.cover_period),
            Spacer(1, 0.2 * cm),
            Paragraph(markup(c["scope_label"]), s.cover_programme),
            Spacer(1, 2.5 * cm),
            facts_table,
        ]
        if c["status"] != "published":
            flowables += [
                Spacer(1, 0.8 * cm),
                Paragraph(
                    markup(
                        _(
                            "Draft – not published. The figures may still change; "
                            "do not pass this report on."
                        )
                    ),
                    s.cover_draft,
                ),
            ]
        return flowables

    def logo(self) -> Flowable:
        path = self.content["logo_path"]
        max_width, max_height = 6 * cm, 2.5 * cm
        if path:
            try:
                width, height = ImageReader(path).getSize()
            except OSError:
                logger.warning("Report logo %s cannot be read; using the placeholder", path)
            else:
                scale = min(max_width / width, max_height / height)
                return Image(path, width=width * scale, height=height * scale, hAlign="RIGHT")
        box = Drawing(4 * cm, max_height)
        box.add(
            Rect(
                0,
                0,
                4 * cm,
                max_height,
                strokeColor=RULE,
                strokeDashArray=[3, 2],
                fillColor=None,
            )
        )
        box.add(
            String(
                2 * cm,
                max_height / 2 - 4,
                _("Logo"),
                fontName=self.s.regular,
                fontSize=11,
                fillColor=MUTED,
                textAnchor="middle",
            )
        )
        box.hAlign = "RIGHT"
        return box

    # Contents

    def contents(self) -> list[Flowable]:
        toc = TableOfContents(dotsMinLevel=0)
        toc.levelStyles = self.s.toc_levels
        return [Paragraph(markup(_("Contents")), self.s.h1), toc]

    # Summary

    def summary(self) -> list[Flowable]:
        c, s = self.content, self.s
        intro = " · ".join(
            [
                _("Period: %(period)s") % {"period": period_text(c["period"])},
                _("Previous period: %(period)s") % {"period": period_text(c["previous_period"])},
                _("Area: %(scope)s") % {"scope": c["scope_label"]},
            ]
        )
        # Two header rows: "Change" spans its absolute and relative column.
        header = [
            _("Code"),
            _("Indicator"),
            _("Unit"),
            _("Value"),
            _("Previous period"),
            pgettext("figures", "Change"),
            "",
        ]
        subheader = ["", "", "", "", "", _("absolute"), "%"]
        rows: list[list[Any]] = [
            [
                Paragraph(markup(h), s.cell_bold if col < 3 else s.cell_bold_right)
                for col, h in enumerate(header)
            ],
            [Paragraph(markup(h), s.cell_bold_right) for h in subheader],
        ]
        for indicator in c["indicators"]:
            absolute, relative = change(indicator["value"], indicator["previous_value"])
            rows.append(
                [
                    Paragraph(markup(indicator["code"]), s.code),
                    Paragraph(markup(indicator["name"]), s.cell),
                    Paragraph(markup(indicator["unit_label"]), s.cell),
                    number(indicator["value"]),
                    number(indicator["previous_value"]),
                    absolute,
                    relative,
                ]
            )
        widths = [w * cm for w in (3.4, 4.1, 2.5, 1.5, 2.0, 1.7, 1.8)]
        table = Table(rows, colWidths=widths, repeatRows=2, style=_table_style(numbers_from=3))
        table.setStyle(
            TableStyle(
                [
                    *[("SPAN", (col, 0), (col, 1)) for col in range(5)],
                    ("SPAN", (5, 0), (6, 0)),
                    ("BACKGROUND", (0, 0), (-1, 1), SHADE),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.25, RULE),
                    ("LINEBELOW", (0, 1), (-1, 1), 0.75, INK),
                    ("FONTNAME", (3, 2), (-1, -1), s.regular),
                    ("TOPPADDING", (0, 2), (-1, -1), 2.5),
                    ("FONTSIZE", (3, 2), (-1, -1), 8),
                ]
            )
        )
        return [
            self.heading(_("Summary"), level=0),
            Paragraph(markup(intro), s.small),
            Spacer(1, 0.3 * cm),
            table,
        ]

    # Charts

    def charts(self) -> list[Flowable]:
        s = self.s
        flowables: list[Flowable] = [self.heading(_("Trends and distributions"), level=0)]
        trended = [i for i in self.content["indicators"] if i["unit"] in TREND_UNITS and i["trend"]]
        if trended:
            flowables.append(self.heading(_("Trend by quarter"), level=1))
            cells = [
                [
                    Paragraph(markup(f"{i['code']} – {i['name']}"), s.chart_title),
                    _trend_chart(i, s.regular, FRAME_WIDTH / 2 - 0.4 * cm, 4.2 * cm),
                ]
                for i in trended
            ]
            flowables.append(_grid(cells))
        labels = self.content["breakdown_labels"]
        for indicator in self.content["indicators"]:
            if not (indicator["code"] == "RCO01" or indicator["unit"] == "visits"):
                continue
            cells = []
            for name in CHARTED_BREAKDOWNS:
                rows = indicator["breakdowns"].get(name)
                if not rows:
                    continue
                title = f"{indicator['code']} – {labels.get(name, name)}"
                cells.append(
                    [
                        Paragraph(markup(title), s.chart_title),
                        _breakdown_chart(rows, s.regular, FRAME_WIDTH / 2 - 0.4 * cm),
                    ]
                )
            if cells:
                flowables += [
                    CondPageBreak(6 * cm),
                    self.heading(
                        _("Distribution: %(indicator)s")
                        % {"indicator": f"{indicator['code']} – {indicator['name']}"},
                        level=1,
                    ),
                    _grid(cells),
                ]
        return flowables

    # Breakdown tables

    def breakdowns(self) -> list[Flowable]:
        s = self.s
        labels = self.content["breakdown_labels"]
        flowables: list[Flowable] = [self.heading(_("Breakdowns"), level=0)]
        for indicator in self.content["indicators"]:
            line = " · ".join(
                [
                    _("Value: %(value)s") % {"value": quantity(indicator["value"], indicator)},
                    _("Previous period: %(period)s")
                    % {"period": quantity(indicator["previous_value"], indicator)},
                ]
            )
            tables = [
                [_breakdown_table(labels.get(name, name), rows, s)]
                for name, rows in indicator["breakdowns"].items()
            ]
            part: list[Flowable] = [
                self.heading(f"{indicator['code']} – {indicator['name']}", level=1),
                Paragraph(markup(line), s.small),
                Spacer(1, 0.15 * cm),
            ]
            if tables:
                part.append(_grid(tables))
            else:
                part.append(Paragraph(markup(_("No breakdown.")), s.body))
            flowables += [CondPageBreak(7 * cm), *part]
        return flowables

    # Narrative

    def narrative(self) -> list[Flowable]:
        narrative = self.content["narrative"]
        sections = [
            (pgettext("report section", "Progress"), narrative["progress"]),
            (pgettext("report section", "Problems"), narrative["problems"]),
            (pgettext("report section", "Outlook"), narrative["outlook"]),
        ]
        flowables: list[Flowable] = [self.heading(_("Narrative report"), level=0)]
        for title, text in sections:
            flowables.append(self.heading(title, level=1))
            paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
            paragraphs = [p for p in paragraphs if p]
            if not paragraphs:
                paragraphs = [_("No information given")]
            flowables += [Paragraph(markup(p), self.s.body) for p in paragraphs]
        return flowables

    # Annex

    def annex(self) -> list[Flowable]:
        s = self.s
        flowables: list[Flowable] = [self.heading(_("Annex: indicator definitions"), level=0)]
        for indicator in self.content["indicators"]:
            facts = [
                (_("Name (English)"), indicator["name_en"]),
                (_("Unit"), indicator["unit_label"]),
                (_("Version"), str(indicator["version"])),
                (_("Counting rule"), indicator["rule"]),
            ]
            table = Table(
                [
                    [Paragraph(markup(k), s.cell_bold), Paragraph(markup(v), s.cell)]
                    for k, v in facts
                ],
                colWidths=[3.5 * cm, FRAME_WIDTH - 3.5 * cm],
                style=_table_style(header=False),
            )
            flowables.append(
                KeepTogether(
                    [
                        Paragraph(markup(f"{indicator['code']} – {indicator['name']}"), s.h3),
                        table,
                        Spacer(1, 0.4 * cm),
                    ]
                )
            )
        return flowables


def _grid(cells: list[list[Flowable]], columns: int = 2) -> Table:
    """Flowables (each a list: title and chart, or one table) side by side, in rows."""
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    rows[-1] = rows[-1] + [[]] * (columns - len(rows[-1]))
    return Table(
        rows,
        colWidths=[FRAME_WIDTH / columns] * columns,
        hAlign="LEFT",
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0.4 * cm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.35 * cm),
            ]
        ),
    )


def _breakdown_table(title: str, rows: list[BreakdownRow], s: _Styles) -> Table:
    data: list[list[Any]] = [
        [Paragraph(markup(title), s.cell_bold), Paragraph(markup(_("Value")), s.cell_bold_right)]
    ]
    data += [[Paragraph(markup(row["label"]), s.cell), number(row["value"])] for row in rows]
    width = FRAME_WIDTH / 2 - 0.4 * cm
    table = Table(data, colWidths=[width - 2.2 * cm, 2.2 * cm], style=_table_style(numbers_from=1))
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (1, 1), (1, -1), s.regular),
                ("FONTSIZE", (1, 0), (1, -1), 8),
            ]
        )
    )
    return table


def _axis_label(value: float) -> str:
    return number(int(value)) if float(value).is_integer() else number(float(value))


def _value_axis_max(values: Sequence[int | float]) -> float:
    top = max([0, *values])
    return top * 1.18 if top > 0 else 1


def _trend_chart(indicator: IndicatorContent, font: str, width: float, height: float) -> Drawing:
    values = [point["value"] for point in indicator["trend"]]
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 34, 16
    chart.width, chart.height = width - 40, height - 24
    chart.data = [values]
    chart.bars[0].fillColor = ACCENT
    chart.bars[0].strokeColor = None
    chart.barSpacing = 2
    chart.groupSpacing = 10
    chart.categoryAxis.categoryNames = _trend_labels(indicator["trend"])
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.dy = -2
    chart.categoryAxis.strokeColor = RULE
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = _value_axis_max(values)
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 6.5
    chart.valueAxis.labelTextFormat = _axis_label
    chart.valueAxis.strokeColor = RULE
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = SHADE
    # More bars than fit a value above each: the figures are in the tables.
    chart.barLabelFormat = _axis_label if len(values) <= TREND_LABELS else None
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6.5
    chart.barLabels.nudge = 6
    drawing.add(chart)
    return drawing


TREND_LABELS = 8  # quarter labels ("Q3 2026") that fit side by side under a trend chart


def _trend_labels(trend: Sequence[TrendPoint]) -> list[str]:
    """The quarter ("Q3 2026") under each bar; for a long trend (a custom period of
    years) only the year under each year's first quarter, every few years, so that the
    labels do not overlap."""
    if len(trend) <= TREND_LABELS:
        return [point["label"] for point in trend]
    years = [int(point["start"][:4]) for point in trend]
    step = -(-(years[-1] - years[0] + 1) // TREND_LABELS)  # ceiling
    return [
        str(year) if point["start"][5:7] == "01" and (year - years[0]) % step == 0 else ""
        for point, year in zip(trend, years, strict=True)
    ]


def _breakdown_chart(rows: list[BreakdownRow], font: str, width: float) -> Drawing:
    # HorizontalBarChart draws its first category at the bottom; reverse for reading order
    ordered = list(reversed(rows))
    values = [row["value"] for row in ordered]
    label_width = 3.6 * cm
    height = 14 * len(rows) + 20
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_width, 14
    chart.width, chart.height = width - label_width - 28, height - 18
    chart.data = [values]
    chart.bars[0].fillColor = ACCENT_LIGHT
    chart.bars[0].strokeColor = None
    chart.categoryAxis.categoryNames = [row["label"] for row in ordered]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -3
    chart.categoryAxis.strokeColor = RULE
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = _value_axis_max(values)
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 6.5
    chart.valueAxis.labelTextFormat = _axis_label
    chart.valueAxis.strokeColor = RULE
    chart.barLabelFormat = _axis_label
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6.5
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    return drawing


# --- Entry point -----------------------------------------------------------------------


def render_pdf(content: ReportContent) -> bytes:
    """The report as PDF bytes; the same content gives the same bytes."""
    regular, bold = register_fonts()
    styles = _Styles(regular, bold)
    buffer = BytesIO()
    document = _ReportDocument(buffer, content, styles)
    document.multiBuild(
        _Builder(content, styles).story(),
        canvasmaker=_numbered_canvas(_footer_lines(content), regular),
    )
    return buffer.getvalue()
