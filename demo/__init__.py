"""Demo data: a marketplace for a first run, built through every domain's services.

It may import every domain; nothing imports it but the command line (`market demo load`) and tests.
"""

from demo.marketplace import PASSWORDS, database_is_empty, load

__all__ = ["PASSWORDS", "database_is_empty", "load"]
