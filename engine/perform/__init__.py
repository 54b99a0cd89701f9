"""The performance: the show as frames, driven live (window, clock) or offline (render_show)."""
