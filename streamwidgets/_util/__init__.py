"""Small private helpers every layer uses: JSON, secrets and masking, argument checks."""
