"""Page areas: one router module per kind of user (docs/web.md)."""
