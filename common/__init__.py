"""Shared library of the campaign platform: what every service needs.

Kept small on purpose: events and their catalogue, the outbox and its relay,
the idempotent event consumer, database plumbing, the JSON error shape and
Chinese text rules. Domain rules of one service live in that service.
"""
