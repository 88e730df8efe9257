"""FlexLedger grid oracle.

The power-flow core, which never touches the chain: ``feeder`` (the grid model),
``forecast`` (uncontrolled load and generation), ``powerflow`` (AC power flow for all MTUs
of a session at once), ``limits`` (integer limits and violations), ``curtail``
(curtailment proposals), ``validate`` (the verdict and its input hash) and ``applied``
(a curtailment as the market applies it to the trades, checked by power flow). See
``docs/gridoracle.md``.
"""
