"""Finance and programme reports: streamed CSV/XLSX exports, IATI and 360Giving."""
