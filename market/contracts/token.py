"""FlexLedger settlement token (contract language; compiled by contracts.compile_contract).

A fungible token counted in micro-units (1 token = 10**6 units; all amounts
are ints).  The issuer mints and burns; holders transfer and approve
spenders, and an approved spender (e.g. the market contract holding
deposits in escrow) pulls funds with transfer_from.

init(issuer) runs once, at deploy, with the deploy arguments.

Storage layout:
    "issuer"                          address of the issuer
    "supply"                          total supply (== sum of all balances)
    "balance:<address>"               balance, absent when zero
    "allowance:<owner>:<spender>"     remaining allowance, absent when zero

Events: Mint{to, amount}, Burn{from, amount}, Transfer{from, to, amount},
Approval{owner, spender, amount}, IssuerChanged{from, to}.
"""

BALANCE = "balance:"
ALLOWANCE = "allowance:"


def _check_address(address):
    require(is_address(address), "invalid address")


def _check_amount(amount):
    require(isinstance(amount, int) and not isinstance(amount, bool), "amount must be an int")
    require(amount > 0, "amount must be positive")


def _balance(address):
    return storage.get(BALANCE + address, 0)


def _set_balance(address, amount):
    if amount == 0:
        storage.delete(BALANCE + address)
    else:
        storage.set(BALANCE + address, amount)


def _allowance_key(owner, spender):
    return ALLOWANCE + owner + ":" + spender


def _only_issuer(action):
    require(chain.caller == storage.get("issuer"), "only the issuer may " + action)


def _move(owner, to, amount):
    _check_address(to)
    _check_amount(amount)
    balance = _balance(owner)
    require(balance >= amount, "insufficient balance")
    if owner != to:
        _set_balance(owner, balance - amount)
        _set_balance(to, _balance(to) + amount)
    emit("Transfer", {"from": owner, "to": to, "amount": amount})


def init(issuer):
    require(not storage.has("issuer"), "already initialized")
    _check_address(issuer)
    storage.set("issuer", issuer)
    storage.set("supply", 0)


def mint(to, amount):
    _only_issuer("mint")
    _check_address(to)
    _check_amount(amount)
    _set_balance(to, _balance(to) + amount)
    storage.set("supply", storage.get("supply") + amount)
    emit("Mint", {"to": to, "amount": amount})
    return True


def burn(from_addr, amount):
    _only_issuer("burn")
    _check_address(from_addr)
    _check_amount(amount)
    balance = _balance(from_addr)
    require(balance >= amount, "insufficient balance")
    _set_balance(from_addr, balance - amount)
    storage.set("supply", storage.get("supply") - amount)
    emit("Burn", {"from": from_addr, "amount": amount})
    return True


def transfer(to, amount):
    _move(chain.caller, to, amount)
    return True


def approve(spender, amount):
    _check_address(spender)
    require(isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0,
            "allowance must be an int >= 0")
    key = _allowance_key(chain.caller, spender)
    if amount == 0:
        storage.delete(key)
    else:
        storage.set(key, amount)
    emit("Approval", {"owner": chain.caller, "spender": spender, "amount": amount})
    return True


def allowance(owner, spender):
    _check_address(owner)
    _check_address(spender)
    return storage.get(_allowance_key(owner, spender), 0)


def transfer_from(owner, to, amount):
    _check_address(owner)
    _check_amount(amount)
    key = _allowance_key(owner, chain.caller)
    allowed = storage.get(key, 0)
    require(allowed >= amount, "allowance exceeded")
    _move(owner, to, amount)
    if allowed == amount:
        storage.delete(key)
    else:
        storage.set(key, allowed - amount)
    return True


def balance_of(address):
    _check_address(address)
    return _balance(address)


def total_supply():
    return storage.get("supply", 0)


def issuer():
    return storage.get("issuer")


def set_issuer(new):
    _only_issuer("set the issuer")
    _check_address(new)
    emit("IssuerChanged", {"from": storage.get("issuer"), "to": new})
    storage.set("issuer", new)
    return True
