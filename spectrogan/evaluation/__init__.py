"""Measuring conversions: features, the two judges, scoring held-out actors, choosing epochs
and changes, and the reports."""
