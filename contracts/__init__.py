"""FlexLedger contracts: the deterministic, gas-metered smart-contract VM.

Contracts are written in a restricted subset of Python (see docs/contracts.md),
compiled by ``compile_contract`` into closures and run by ``run_call``
against a node-provided ``Host`` (see docs/vm-host-interface.md).
"""

from contracts.compiler import compile_contract
from contracts.errors import CompileError, ContractError, VMError
from contracts.gas import GasMeter
from contracts.program import Function, Program, code_hash
from contracts.vm import run_call

__all__ = ["CompileError", "ContractError", "Function", "GasMeter", "Program", "VMError",
           "code_hash", "compile_contract", "run_call"]
