"""Tests of the terminal UI and the session facade it drives."""
