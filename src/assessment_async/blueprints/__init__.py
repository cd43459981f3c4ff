"""Thin routes: validate, call a service, shape the answer."""
