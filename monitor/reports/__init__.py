"""Monthly reports per hall, city and province as PDF (ReportLab) and Excel (openpyxl): `data` gathers what the
user may see, `texts` says it in their language, `pdf` and `excel` render it. See docs/reports.md."""
