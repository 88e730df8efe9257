"""FlexLedger cli package."""
