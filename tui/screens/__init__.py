"""Modal and full screens: help, file picker, confirmation, patch review."""
