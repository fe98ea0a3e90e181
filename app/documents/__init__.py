"""Document uploads: content sniffing, streamed multipart parsing and filename handling."""
