"""Contracts in delivery: contracts, KPIs, deliveries, resident links, ratings, complaints, audits."""
