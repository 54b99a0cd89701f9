"""The show's state: the Show, the address vocabulary (controls), the schedule and the scene watch."""
