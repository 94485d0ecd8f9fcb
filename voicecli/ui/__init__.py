"""Consumers of the event stream: the text view, JSONL, the transcript file, stderr status."""
