"""FlexLedger market package."""
