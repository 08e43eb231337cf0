"""The invoice as a PDF (reportlab), rendered once when the invoice is issued and stored with it."""

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import Invoice, InvoiceLine


def invoice_pdf_render(*, invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    """An A4 PDF of the invoice: seller, number, dates, buyer, lines, VAT summary, total and terms."""
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Invoice {invoice.number}",
        author="ChargeNet",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    styles = getSampleStyleSheet()
    cur = invoice.currency
    seller = [invoice.seller_name, *invoice.seller_address.splitlines()]
    if invoice.seller_vat_id:
        seller.append(f"VAT id {invoice.seller_vat_id}")
    buyer = [invoice.billing_name, *invoice.billing_address.splitlines()]
    if invoice.buyer_vat_id:
        buyer.append(f"VAT id {invoice.buyer_vat_id}")
    story = [Paragraph(escape(line), styles["Normal"]) for line in seller if line]
    story += [
        Spacer(1, 6 * mm),
        Paragraph(f"Invoice {invoice.number}", styles["Title"]),
        Paragraph(
            f"Invoice date {invoice.issued_at:%Y-%m-%d} · Period {invoice.period_start:%Y-%m-%d} to "
            f"{invoice.period_end:%Y-%m-%d}"
            + (f" · Due {invoice.due_on:%Y-%m-%d}" if invoice.due_on else ""),
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
        Paragraph("Bill to", styles["Heading4"]),
    ]
    story += [Paragraph(escape(line), styles["Normal"]) for line in buyer if line]
    story.append(Spacer(1, 8 * mm))
    rows = [["#", "Description", "VAT %", f"Net {cur}", f"VAT {cur}", f"Total {cur}"]]
    for line in lines:
        rows.append(
            [
                str(line.position),
                Paragraph(line.description, styles["BodyText"]),
                f"{line.vat_percent:.2f}",
                f"{line.amount_excl_vat:.2f}",
                f"{line.amount_vat:.2f}",
                f"{line.amount_incl_vat:.2f}",
            ]
        )
    table = Table(rows, colWidths=[10 * mm, 80 * mm, 16 * mm, 22 * mm, 22 * mm, 24 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                ("LINEBELOW", (0, 0), (-1, -1), 1, colors.HexColor("#e8ebf0")),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
            ]
        )
    )
    story += [table, Spacer(1, 8 * mm), Paragraph("VAT summary", styles["Heading3"])]
    summary = [["VAT %", f"Net {cur}", f"VAT {cur}", f"Total {cur}"]]
    for rate in invoice.vat_summary:
        summary.append([rate["vat_percent"], rate["net"], rate["vat"], rate["gross"]])
    summary.append(
        [
            "Total",
            f"{invoice.total_excl_vat:.2f}",
            f"{invoice.total_vat:.2f}",
            f"{invoice.total_incl_vat:.2f}",
        ]
    )
    vat_table = Table(summary, colWidths=[30 * mm, 30 * mm, 30 * mm, 30 * mm])
    vat_table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
            ]
        )
    )
    story += [
        vat_table,
        Spacer(1, 8 * mm),
        Paragraph(f"Amount due: {invoice.total_incl_vat:.2f} {cur}", styles["Heading2"]),
    ]
    if invoice.payment_terms:
        story.append(Paragraph(escape(invoice.payment_terms), styles["Normal"]))
    doc.build(story)
    return buffer.getvalue()
