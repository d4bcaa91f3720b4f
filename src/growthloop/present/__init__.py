"""Presentation: tables as published (suppression), glue, figures, theme, the summary."""
