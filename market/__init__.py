"""Participants and purchasing: accounts, regions, departments, audit firms, providers, catalogue."""
