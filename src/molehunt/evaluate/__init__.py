"""Evaluation against ground truth: the metrics of DESIGN.md §7 and an HTML report."""
