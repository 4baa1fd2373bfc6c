"""Scorecards, tiered payments, payout backends and the star certification."""
