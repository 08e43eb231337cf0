"""Invoices and credit notes as PDFs (reportlab). An invoice's PDF is rendered once, when it is
issued, in its driver's language and stored with it; a credit note's is drawn from its refund and
invoice (neither changes once issued) in the reader's language."""

from collections.abc import Sequence
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import Invoice, InvoiceLine, Refund

_HEADER = colors.HexColor("#eef1f5")
_RULE = colors.HexColor("#e8ebf0")


def _fonts() -> tuple[str, str]:
    """The regular and bold font names: BILLING_PDF_FONT(_BOLD) when the files exist (registered once),
    else PDF's built-in Helvetica, which has no Cyrillic."""
    try:
        pdfmetrics.getFont("ChargeNet")
        pdfmetrics.getFont("ChargeNet-Bold")
        return "ChargeNet", "ChargeNet-Bold"
    except KeyError:
        pass
    try:
        pdfmetrics.registerFont(TTFont("ChargeNet", settings.BILLING_PDF_FONT))
        pdfmetrics.registerFont(
            TTFont("ChargeNet-Bold", settings.BILLING_PDF_FONT_BOLD or settings.BILLING_PDF_FONT)
        )
    except Exception:  # no such file, not a TrueType font: reportlab raises several kinds
        return "Helvetica", "Helvetica-Bold"
    return "ChargeNet", "ChargeNet-Bold"


def _styles() -> Any:
    regular, bold = _fonts()
    styles = getSampleStyleSheet()
    for name in ("Normal", "BodyText"):
        styles[name].fontName = regular
    for name in ("Title", "Heading2", "Heading3", "Heading4"):
        styles[name].fontName = bold
    return styles


def _build(*, title: str, story: list[Flowable]) -> bytes:
    buffer = BytesIO()
    margin = 18 * mm
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="ChargeNet",
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
    )
    doc.build(story)
    return buffer.getvalue()


def _parties(invoice: Invoice, styles: Any, *, heading: str, dates: str) -> list[Flowable]:
    """The seller, the document's title and dates, and the buyer, as the invoice recorded them."""
    seller = [invoice.seller_name, *invoice.seller_address.splitlines()]
    if invoice.seller_vat_id:
        seller.append(_("VAT id %(id)s") % {"id": invoice.seller_vat_id})
    buyer = [invoice.billing_name, *invoice.billing_address.splitlines()]
    if invoice.buyer_vat_id:
        buyer.append(_("VAT id %(id)s") % {"id": invoice.buyer_vat_id})
    story: list[Flowable] = [Paragraph(escape(line), styles["Normal"]) for line in seller if line]
    story += [
        Spacer(1, 6 * mm),
        Paragraph(escape(heading), styles["Title"]),
        Paragraph(escape(dates), styles["Normal"]),
        Spacer(1, 6 * mm),
        Paragraph(escape(_("Bill to")), styles["Heading4"]),
    ]
    story += [Paragraph(escape(line), styles["Normal"]) for line in buyer if line]
    story.append(Spacer(1, 8 * mm))
    return story


def _table(rows: Sequence[Sequence[Any]], widths: list[float], *, total_row: bool = False) -> Table:
    regular, bold = _fonts()
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), regular),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER),
        ("LINEBELOW", (0, 0), (-1, -1), 1, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]
    if total_row:
        style.append(("FONTNAME", (0, -1), (-1, -1), bold))
    table.setStyle(TableStyle(style))
    return table


def _amount_headers(currency: str) -> list[str]:
    return [
        _("Net %(currency)s") % {"currency": currency},
        _("VAT %(currency)s") % {"currency": currency},
        _("Total %(currency)s") % {"currency": currency},
    ]


def invoice_pdf_render(*, invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    """An A4 PDF of the invoice in the active language: seller, number, dates, buyer, lines, VAT
    summary, total and terms."""
    styles = _styles()
    cur = invoice.currency
    dates = _("Invoice date %(issued)s · Period %(start)s to %(end)s") % {
        "issued": f"{invoice.issued_at:%Y-%m-%d}",
        "start": f"{invoice.period_start:%Y-%m-%d}",
        "end": f"{invoice.period_end:%Y-%m-%d}",
    }
    if invoice.due_on:
        dates += " · " + _("Due %(day)s") % {"day": f"{invoice.due_on:%Y-%m-%d}"}
    title = _("Invoice %(number)s") % {"number": invoice.number}
    story = _parties(invoice, styles, heading=title, dates=dates)
    rows: list[list[Any]] = [["#", _("Description"), _("VAT %"), *_amount_headers(cur)]]
    for line in lines:
        rows.append(
            [
                str(line.position),
                Paragraph(escape(line.description), styles["BodyText"]),
                f"{line.vat_percent:.2f}",
                f"{line.amount_excl_vat:.2f}",
                f"{line.amount_vat:.2f}",
                f"{line.amount_incl_vat:.2f}",
            ]
        )
    table = _table(rows, [10 * mm, 80 * mm, 16 * mm, 22 * mm, 22 * mm, 24 * mm])
    table.setStyle(TableStyle([("ALIGN", (2, 0), (-1, -1), "RIGHT")]))
    story += [table, Spacer(1, 8 * mm), Paragraph(escape(_("VAT summary")), styles["Heading3"])]
    summary: list[list[Any]] = [[_("VAT %"), *_amount_headers(cur)]]
    for rate in invoice.vat_summary:
        summary.append([rate["vat_percent"], rate["net"], rate["vat"], rate["gross"]])
    summary.append(
        [
            _("Total"),
            f"{invoice.total_excl_vat:.2f}",
            f"{invoice.total_vat:.2f}",
            f"{invoice.total_incl_vat:.2f}",
        ]
    )
    vat_table = _table(summary, [30 * mm] * 4, total_row=True)
    vat_table.setStyle(TableStyle([("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    amount_due = _("Amount due: %(amount)s %(currency)s") % {
        "amount": f"{invoice.total_incl_vat:.2f}",
        "currency": cur,
    }
    story += [vat_table, Spacer(1, 8 * mm), Paragraph(escape(amount_due), styles["Heading2"])]
    if invoice.payment_terms:
        story.append(Paragraph(escape(invoice.payment_terms), styles["Normal"]))
    return _build(title=title, story=story)


def credit_note_pdf_render(*, refund: Refund) -> bytes:
    """An A4 PDF of a refund's credit note in the active language: the invoice's seller and buyer,
    the credit note's number and date, the invoice and payment it credits, the reason, and the
    amount credited split into net and VAT. Raises ValueError for a refund with no credit note yet."""
    if not refund.credit_note_number or refund.refunded_at is None:
        raise ValueError("the refund has no credit note yet")
    invoice = refund.invoice
    styles = _styles()
    cur = refund.currency
    title = _("Credit note %(number)s") % {"number": refund.credit_note_number}
    dates = _("Credit note date %(day)s · Credits invoice %(invoice)s") % {
        "day": f"{refund.refunded_at:%Y-%m-%d}",
        "invoice": invoice.number,
    }
    story = _parties(invoice, styles, heading=title, dates=dates)
    rows: list[list[Any]] = [
        [_("Description"), *_amount_headers(cur)],
        [
            Paragraph(escape(_("Refund: %(reason)s") % {"reason": refund.reason}), styles["BodyText"]),
            f"-{refund.amount_excl_vat:.2f}",
            f"-{refund.amount_vat:.2f}",
            f"-{refund.amount:.2f}",
        ],
    ]
    table = _table(rows, [88 * mm, 28 * mm, 28 * mm, 30 * mm])
    table.setStyle(TableStyle([("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    credited = _("Amount credited: %(amount)s %(currency)s") % {
        "amount": f"{refund.amount:.2f}",
        "currency": cur,
    }
    story += [table, Spacer(1, 8 * mm), Paragraph(escape(credited), styles["Heading2"])]
    story.append(
        Paragraph(
            escape(
                _("Refunded to the payment made with %(provider)s on %(day)s.")
                % {"provider": refund.payment.provider, "day": f"{refund.payment.created_at:%Y-%m-%d}"}
            ),
            styles["Normal"],
        )
    )
    return _build(title=title, story=story)
