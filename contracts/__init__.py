"""FlexLedger contracts package."""
