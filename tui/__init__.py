"""The Textual app: a face over the core, with no business logic of its own."""
