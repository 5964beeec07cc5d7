"""Browser pages of the predictions app, one module per area."""
