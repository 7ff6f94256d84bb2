"""Redriva Toolkit."""
