"""Memoria with tools of your own: in one turn the model calls them as often as it needs (the
`tools` node runs each call and hands back to the model), beside the built-in
`search_conversation`, with which it searches everything said earlier in the thread.

    GROQ_API_KEY=gsk_... python examples/tools.py "¿Cuántos dólares son 120 euros?"

The thread is `tools-demo` in Memoria's default database (`$MEMORIA_DB`, else
checkpoints/memoria.sqlite); run it again to continue the conversation.
"""

from __future__ import annotations

import sys

from langchain_core.tools import tool

from memoria import Context, Memoria, ToolCall, ToolResult

RATES = {"USD": 1.08, "GBP": 0.85, "JPY": 162.0}


@tool
def convert(amount: float, currency: str) -> str:
    """Convert an amount of euros to USD, GBP or JPY at today's rate."""
    if currency.upper() not in RATES:
        raise ValueError(f"no rate for {currency}; known: {', '.join(RATES)}")
    return f"{amount:g} EUR = {amount * RATES[currency.upper()]:.2f} {currency.upper()}"


def main() -> None:
    text = " ".join(sys.argv[1:]) or "¿Cuántos dólares son 120 euros?"
    context = Context(model="groq:llama-3.3-70b-versatile")
    with Memoria(context=context, tools=[convert]) as agent:
        for event in agent.start("tools-demo", text).events():
            if isinstance(event, ToolCall):
                print(f"[calling {event.name} with {event.args}]")
            elif isinstance(event, ToolResult):
                print(f"[{event.name}: {event.content}]")
            else:
                print(event, end="", flush=True)
        print()


if __name__ == "__main__":
    main()
