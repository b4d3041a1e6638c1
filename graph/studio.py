"""The graph `langgraph.json` serves to LangGraph Studio and the LangGraph server.

The server brings its own checkpointer and store; the transcript lives in that store, and the
models come from each run's context (Studio's assistant configuration). Importing `memoria.graph`
does not compile it: only the server (and whoever imports this module) does.
"""

from memoria.graph import build_graph

graph = build_graph()
