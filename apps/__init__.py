"""Applications the labs deploy inside their guests."""
