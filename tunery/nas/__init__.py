"""Neural architecture search (docs/nas.md)."""
