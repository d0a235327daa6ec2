"""Insider scenarios C1-C5 and S1-S4 (DESIGN.md §6), one module each."""
