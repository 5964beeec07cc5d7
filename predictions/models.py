"""Models, predictions, alerts and work orders (tenant schema). Built by the ML engine issue."""
