"""HTML / Markdown report of a run directory: ``render_report(run_dir) -> (html_path, md_path)``."""

from tunegate.report.render import ReportError, render_report

__all__ = ["ReportError", "render_report"]
