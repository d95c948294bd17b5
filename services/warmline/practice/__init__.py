"""Empathy practice (#17 item 3): anonymised scenarios and feedback on an agent's opening."""
