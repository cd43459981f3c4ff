"""Sync services named as the gevent plan's notes name them; each opens its own transaction,
as the seed application's services do."""
