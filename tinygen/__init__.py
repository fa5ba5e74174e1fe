"""tinygen (being written)."""
