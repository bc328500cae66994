"""The workshop around the sample shop: the stack of processes (stack.py), the traffic its users
make (traffic.py), the one-command demo (story.py), the running stack for exploring
(running.py) and the workshop's checks (checks.py). docs/workshop.md walks through it."""
