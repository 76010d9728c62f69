"""Reusable Pulumi ComponentResources, grouped by platform, and pure renderers."""
