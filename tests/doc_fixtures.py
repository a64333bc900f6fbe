"""PDF and DOCX files made on the spot for tests: no binary fixtures in the repository.

`make_pdf` writes a minimal PDF by hand (one Helvetica line per text object,
as word processors place them), so a test controls exactly what the text
layer holds; `pages=[[]]` gives a page without text, as a scanner makes.
"""

from __future__ import annotations

import io


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A PDF with one page per list, each string one printed line (cp1252 characters only)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for lines in pages:
        ops = [b"BT /F1 11 Tf"]
        for n, line in enumerate(lines):
            text = line.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
            ops.append(b"1 0 0 1 72 %d Tm (%s) Tj" % (740 - 14 * n, text))
        ops.append(b"ET")
        content = b"\n".join(ops) if lines else b"q 0.9 g 72 72 468 648 re f Q"  # a grey box: a "scan"
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (len(objects), font)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    info = None
    if title is not None:
        objects.append(b"<< /Title (%s) /Producer (tests) >>" % title.encode("cp1252"))
        info = len(objects)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = b"/Size %d /Root 1 0 R" % (len(objects) + 1) + (b" /Info %d 0 R" % info if info else b"")
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


def make_docx(paragraphs: list[str], title: str | None = None, heading: str | None = None) -> bytes:
    """A Word document: an optional Title-style heading, then one paragraph per string."""
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    if heading is not None:
        document.add_heading(heading, 0)
    for text in paragraphs:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
