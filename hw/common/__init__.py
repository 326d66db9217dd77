"""Blocks and helpers that several designs share."""
