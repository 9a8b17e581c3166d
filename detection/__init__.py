"""Pure streaming rep detection (filled in by the detection work)."""
