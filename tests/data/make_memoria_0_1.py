"""How tests/data/memoria-0.1.sqlite was made: by Memoria 0.1 itself (commit d8e374e), which kept
transcripts as items of LangGraph's SqliteStore. The upgrade tests open it with this version.

    git worktree add /tmp/oldtree d8e374e
    .venv/bin/python tests/data/make_memoria_0_1.py tests/data/memoria-0.1.sqlite
    # then: PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; VACUUM
"""

import sys

sys.path.insert(0, "/tmp/oldtree")  # Memoria 0.1 installed its folder as the package `graph`
from graph import Context
from graph.agent import Memoria

db = sys.argv[1]
with Memoria(db=db, context=Context(model="echo", memory="hybrid", k=2, max_tokens=300)) as agent:
    agent.send("juan", "Hola, soy Juan y vivo en Bogotá. Mi perro se llama Toby.")
    for n in range(8):
        agent.send("juan", f"Hoy hablamos del tema número {n}: " + "contenido variado " * 8)
    agent.send("juan.v2", "My sister Ana lives in Lisbon and works as an architect.")
    agent.send("juan.v2", "The weather is nice today.")
print("ok")
