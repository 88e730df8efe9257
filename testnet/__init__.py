"""FlexLedger testnet package."""
