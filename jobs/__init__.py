"""One small module per MLproject entry point: read parameters, call `lab`, log through `lab.tracking`."""
