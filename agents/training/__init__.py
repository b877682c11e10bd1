"""Training on what the search found: ORPO on preference pairs (`agents.training.orpo`)."""
