"""The Open Contracting Data Standard (OCDS 1.1) export of published tenders (SPEC §7): releases,
release and record packages over HTTP (`routes`) and from the command line (`cli`). The schemas and
extensions it follows are in `schema/`, with their license and origin (schema/NOTICE.md)."""
