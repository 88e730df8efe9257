"""FlexLedger gridoracle package."""
