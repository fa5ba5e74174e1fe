"""Fused kernels (being written)."""
