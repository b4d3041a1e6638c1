"""Memoria's memory in an agent built with LangChain's `create_agent`: `MemoriaMiddleware` keeps
the model's view bounded (recent turns, a running summary, excerpts recalled from the whole
transcript) while the transcript keeps every word, and gives the agent `search_conversation`.

    GROQ_API_KEY=gsk_... python examples/agent_middleware.py "Me llamo Ana y vivo en Quito."
    GROQ_API_KEY=gsk_... python examples/agent_middleware.py "¿Qué tiempo hace donde vivo?"

Checkpoints go to checkpoints/agent.sqlite (LangGraph's SqliteSaver), the transcript to
checkpoints/agent-memory.sqlite (a Memoria database, indexed for search as each turn is archived).
"""

from __future__ import annotations

import sys
from pathlib import Path

from langchain.agents import create_agent
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver

from memoria import MemoriaMiddleware


@tool
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"{city}: 18 °C, nublado por la mañana, sol por la tarde"


def main() -> None:
    text = " ".join(sys.argv[1:]) or "¿Qué tiempo hace hoy en Quito?"
    Path("checkpoints").mkdir(exist_ok=True)
    with (
        SqliteSaver.from_conn_string("checkpoints/agent.sqlite") as checkpointer,
        MemoriaMiddleware(
            db="checkpoints/agent-memory.sqlite", memory="hybrid", k=5, max_tokens=4000
        ) as memory,
    ):
        agent = create_agent(
            "groq:llama-3.3-70b-versatile",
            tools=[weather],
            system_prompt="Eres un asistente breve y útil.",
            middleware=[memory],
            checkpointer=checkpointer,
        )
        config = {"configurable": {"thread_id": "agent-demo"}}
        result = agent.invoke({"messages": [("user", text)]}, config)
        print(result["messages"][-1].content)


if __name__ == "__main__":
    main()
