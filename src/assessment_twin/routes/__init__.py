"""Thin Flask routes: validate, call a service (sync, or phase 2's wrappers), shape the answer."""
