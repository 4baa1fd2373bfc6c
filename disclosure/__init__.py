"""Public disclosure (SPEC §7): the portal's pages, the OCDS export, red flags on awards and the
equality dashboard. It reads every domain (market, contracts, scoring) through their services and
public rules; no domain imports it, only the composition root (app.py)."""
