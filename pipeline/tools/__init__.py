"""Tools people run beside the stream: today the web UI (more move here with the new layout)."""
