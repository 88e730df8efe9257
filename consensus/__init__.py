"""FlexLedger consensus package."""
