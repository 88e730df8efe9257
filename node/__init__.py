"""FlexLedger node package."""
