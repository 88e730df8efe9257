"""Parameter lists of contract functions and natives, and argument binding.

Calls are bound at compile time (positional and keyword arguments to
parameter slots, defaults filled in), so the interpreter only ever passes
positional values.  Entry calls from the node bind a plain argument list.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from contracts.errors import CompileError, VMError


@dataclass(frozen=True)
class Default:
    """A parameter not given at a call site: its default value is used."""

    value: object


@dataclass(frozen=True)
class Signature:
    params: tuple[str, ...] = ()                          # positional-or-keyword
    defaults: tuple = ()                                  # for the last len(defaults) params
    keyword_only: tuple[tuple[str, object], ...] = ()     # (name, default)
    varargs: bool = False                                 # extra positionals go last

    @property
    def required(self) -> int:
        return len(self.params) - len(self.defaults)

    def accepts(self, count: int) -> bool:
        return self.required <= count and (self.varargs or count <= len(self.params))

    def bind(self, name: str, args: list[ast.expr], keywords: list[ast.keyword],
             lineno: int) -> list[ast.expr | Default]:
        """Map a call's argument nodes to the parameter order (then varargs)."""
        def fail(message: str) -> CompileError:
            return CompileError("bad_call", f"{name}(): {message}", lineno)

        if len(args) > len(self.params) and not self.varargs:
            raise fail(f"takes at most {len(self.params)} positional arguments, got {len(args)}")
        slots: dict[str, ast.expr | Default] = dict(zip(self.params, args))
        kw_names = {kw_name for kw_name, _ in self.keyword_only}
        for keyword in keywords:
            if keyword.arg is None:
                raise CompileError("syntax_not_allowed", "**arguments are not allowed", lineno)
            if keyword.arg in slots:
                raise fail(f"got multiple values for argument '{keyword.arg}'")
            if keyword.arg not in self.params and keyword.arg not in kw_names:
                raise fail(f"unexpected keyword argument '{keyword.arg}'")
            slots[keyword.arg] = keyword.value
        first_default = self.required
        bound: list[ast.expr | Default] = []
        for index, param in enumerate(self.params):
            if param in slots:
                bound.append(slots[param])
            elif index >= first_default:
                bound.append(Default(self.defaults[index - first_default]))
            else:
                raise fail(f"missing required argument '{param}'")
        bound.extend(slots.get(kw_name, Default(default)) for kw_name, default in self.keyword_only)
        bound.extend(args[len(self.params):])
        return bound

    def bind_values(self, name: str, values: list) -> list:
        """Bind an entry call's positional values, filling in defaults."""
        if not self.accepts(len(values)):
            raise VMError("bad_argument", f"{name}() takes {self.describe()} arguments, "
                          f"got {len(values)}")
        return list(values) + list(self.defaults[len(values) - self.required:])

    def describe(self) -> str:
        if self.required == len(self.params):
            return str(self.required)
        return f"{self.required} to {len(self.params)}"


@dataclass(frozen=True)
class Native:
    """A function implemented by the VM (builtin or host API): ``impl(c, *args)``.

    Arguments are passed in ``sig`` order: parameters, keyword-only parameters,
    then extra positionals.  Parameters named in ``function_params`` take a key
    function (a lambda or a contract function name) and receive a Python
    callable ``key(value) -> value`` or None.
    """

    name: str
    impl: object
    sig: Signature = Signature()
    function_params: frozenset = frozenset()

    def param_names(self) -> tuple[str, ...]:
        return self.sig.params + tuple(name for name, _ in self.sig.keyword_only)
