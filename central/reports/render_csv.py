"""CSV: every section as a block of rows, headed by its title; UTF-8 with a BOM so spreadsheet
programs open the Chinese text correctly."""

from __future__ import annotations

import csv
import io

from central.reports.document import Document

BOM = "\ufeff"


def render(doc: Document) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([doc.title])
    for label, value in doc.meta:
        writer.writerow([label, value])
    for section in doc.sections:
        writer.writerow([])
        writer.writerow([f"[{section.key}]", section.title])
        writer.writerow(section.headers)
        writer.writerows(section.rows)
    return (BOM + out.getvalue()).encode("utf-8")
