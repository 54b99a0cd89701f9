"""The picture: the compositor (crossfade, reveal, drift, frames), the canvases, the window, the overlay."""
