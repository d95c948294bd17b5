"""The scoring service: the emotion model on the stream."""
