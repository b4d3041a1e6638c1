"""The `memoria` command: a thin layer over `memoria.Memoria`.

Only click, python-dotenv and the standard library are imported up front; LangGraph and LangChain
load when a command needs them, so `memoria --help` and `threads list` start quickly.

- `app`: the command group and the console script `run` (exit statuses, error lines);
- `reporting`: how a failing command reports itself;
- `conversation`: `chat` and `ask`; `session`: the chat's interactive loop; `history`: its
  input history; `signals`: Ctrl-C during turns;
- `threads`: `threads ...` and `import`;
- `render`: what the commands print; `files`: the files they write; `database`: how they open
  the database; `options`: shared options; `env`: `.env` and start-up tuning.
"""

from memoria.cli.app import main, run

__all__ = ["main", "run"]
