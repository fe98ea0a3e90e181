"""Tests for calls: creation and validation, lifecycle, visibility, frozen terms, panel."""
