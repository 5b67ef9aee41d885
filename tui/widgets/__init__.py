"""The app's widgets: each one renders; none calls the core."""
