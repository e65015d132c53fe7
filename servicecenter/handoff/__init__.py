"""Handing a conversation over to a person: requests, routing, summaries."""
