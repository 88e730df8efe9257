"""Hard limits of the contract language and VM (not gas; see ``gas.py``).

They keep the interpreter's Python stack and memory bounded so that every
node computes exactly the same result, whatever its own call stack looks like.
"""

INT_BOUND = 2**256          # every int must satisfy abs(x) < INT_BOUND
MAX_SOURCE_BYTES = 128 * 1024
MAX_OPERATORS_PER_STATEMENT = 200  # operator/bracket tokens in one logical line
MAX_ELIF = 1000             # `elif` keywords in one source
MAX_NESTING = 40            # statement + expression nesting inside a function
MAX_FRAMES = 64             # contract function frames on the stack of one transaction
MAX_CALL_DEPTH = 8          # contracts on the cross-contract call stack
MAX_VALUE_DEPTH = 32        # nesting of lists/tuples/dicts at VM boundaries and in comparisons
MAX_KEY_BYTES = 256         # storage key length (UTF-8)
MAX_DICT_KEY_LENGTH = 256   # characters of a str (or bytes) dict key
MAX_KEY_TUPLE = 16          # elements of a tuple dict key
MAX_SCAN_LIMIT = 1000       # entries returned by one storage.scan
MAX_INT_DIGITS = 100        # characters accepted by int(str)
MAX_MESSAGE_CHARS = 256     # characters of a revert()/require() message kept in the receipt
MAX_RESULT_BYTES = 64 * 1024        # size of a transaction's result (as copy_value counts it)
MAX_QUERY_RESULT_BYTES = 1024 * 1024   # size of a read-only query's result
MAX_EVENT_BYTES = 256 * 1024        # encoded event data one transaction may emit, in all
MAX_EVENT_NAME = 64              # characters of an event name
