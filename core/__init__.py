"""Infrastructure shared by every domain: settings, database, clock, journal, auth, API helpers.

Nothing in here knows a business rule.
"""
