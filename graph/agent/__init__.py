"""The library API that the CLI and backends share: one database, one configuration, many threads.

    from memoria import Memoria, Context

    with Memoria(db="chat.sqlite", context=Context(memory="hybrid")) as agent:
        for piece in agent.stream("juan", "Hola, soy Juan"):
            print(piece, end="", flush=True)

- `facade`: `Memoria`, its models and its turns.
- `turn`: a running turn, on a worker thread so that it can be cancelled at once; its rollback.
- `admin`: `ThreadAdmin`, a database's threads with no model loaded up front: reading, the next
  prompt's preview (`preview`), import and export, fork, rename and delete, all or nothing.
- `interrupts`: where Ctrl-C may interrupt a turn, and where it must wait.
"""

from memoria.agent.admin import ImportResult, ThreadAdmin, ThreadExistsError, ThreadNotFoundError
from memoria.agent.facade import Memoria
from memoria.agent.turn import Turn
from memoria.events import astream_reply, reply_piece
from memoria.ids import validate_thread_id

__all__ = [
    "ImportResult",
    "Memoria",
    "ThreadAdmin",
    "ThreadExistsError",
    "ThreadNotFoundError",
    "Turn",
    "astream_reply",
    "reply_piece",
    "validate_thread_id",
]
