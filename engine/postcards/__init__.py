"""Postcards: the model store, the samplers by name, sampling, the maker (Recipe, Postcard), the worker
process that paints ahead of the screen, and generate (PNG files, grids)."""
