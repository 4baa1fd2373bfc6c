"""Red flags on awards (SPEC §7), named after the Open Contracting Partnership's Cardinal indicators
(`shared/ocds/RED_FLAGS.md`), plus two of our own: a winning price near the ceiling and bidders taking
turns to win a department's tenders.

Computed on read, set-based in SQL over the bids and awards as OCDS shapes them (`ocds`); nothing is
stored. The tender's officers see them once the bids are opened, everyone once the award is final
(`access`). `service.flags_for_tenders` is the entry point; `types` is the GraphQL side.
"""
