"""HTTP routes, one module per endpoint family; route functions only dispatch."""
