"""Reporting: the claim report, figures and plotting, compare and history."""
