"""The invoice as a PDF (reportlab), rendered once when the invoice is issued and stored with it."""

from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import Invoice, InvoiceLine


def invoice_pdf_render(*, invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    """An A4 PDF of the invoice: number, dates, addressee, lines, VAT summary and total."""
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
    story = [
        Paragraph(f"Invoice {invoice.number}", styles["Title"]),
        Paragraph(
            f"Issued {invoice.issued_at:%Y-%m-%d} · Period {invoice.period_start:%Y-%m-%d} to "
            f"{invoice.period_end:%Y-%m-%d}",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
        Paragraph(invoice.billing_name or "", styles["Normal"]),
    ]
    for address_line in (invoice.billing_address or "").splitlines():
        story.append(Paragraph(address_line, styles["Normal"]))
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
    doc.build(story)
    return buffer.getvalue()
