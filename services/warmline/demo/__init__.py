"""`warmline demo`: the main job on an embedded default."""
