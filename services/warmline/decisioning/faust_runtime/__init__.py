"""What the decisioning worker changes in faust-streaming, kept apart from the decision core."""
