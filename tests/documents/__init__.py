"""Tests for streamed document uploads: sniffing, multipart parsing, filenames."""
